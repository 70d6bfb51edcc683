"""The HTTP interface: the seed API (/api/), health, and the one exception handler."""
