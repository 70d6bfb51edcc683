"""/v1/exports and /v1/jobs: a game's standings exported as CSV by a job, and the jobs' state, for
admin keys."""

from django.http import FileResponse, JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from ... import services
from ...exceptions import LeaderboardError
from ...jobs import job_queue
from ...models import ApiKey
from ...services import exports
from .. import schema
from ..endpoints import Endpoint
from ..errors import Reply, reply_for
from ..fields import PeriodField


class ExportInput(serializers.Serializer):
    period = PeriodField(help_text="current (the default), or a closed period's id: export its final standings")


class GameExports(Endpoint):
    @extend_schema(
        request=ExportInput, parameters=[schema.API_KEY],
        responses={202: schema.CreatedExportOutput, **schema.v1_errors(400, 401, 403, 404, 503)},
    )  # fmt: skip
    def post(self, request, game_id) -> Reply:
        caller = self.require_key(ApiKey.Scope.ADMIN)
        sent = request.META.get("CONTENT_LENGTH") not in (None, "", "0")
        body = request.data if sent else {}  # no body: the current period; null, "" or [] is 400
        export = exports.request_export(caller=caller, game_id=game_id, **self.parse(ExportInput, body))
        return Reply(202, {"export_id": export.export_id, "job_id": export.job_id})


class ExportDetail(Endpoint):
    @extend_schema(parameters=[schema.API_KEY], responses={200: schema.ExportOutput, **schema.v1_errors(401, 403, 404)})
    def get(self, request, export_id) -> Reply:
        self.require_key(ApiKey.Scope.ADMIN)
        export = exports.export_of(export_id)
        body = {
            "export_id": export.export_id, "game_id": export.game_id, "job_id": export.job_id,
            "status": export.status, "rows": export.rows, "error": export.error,
            "created_at": export.created_at.isoformat(),
            "finished_at": export.finished_at.isoformat() if export.finished_at else None,
        }  # fmt: skip
        if export.status == "ready":
            origin = f"{'https' if request.is_secure() else 'http'}://{request.get_host()}"
            body["download_url"] = f"{origin}/v1/exports/{export.export_id}/download"
        return Reply(200, body)


@require_GET
def export_download(request, export_id):
    """The export's CSV file, for an admin key (a file, not JSON: not an Endpoint)."""
    try:
        services.authenticate_api_key(key=request.headers.get("X-API-Key"), scope=ApiKey.Scope.ADMIN)
        path = exports.export_file(export_id)
    except LeaderboardError as error:
        reply = reply_for(error, v1=True, method=request.method, path=request.path)
        return JsonResponse(reply.body, status=reply.status, headers=reply.headers)
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"{export_id}.csv", content_type="text/csv")


class JobDetail(Endpoint):
    @extend_schema(
        parameters=[schema.API_KEY], responses={200: schema.JobOutput, **schema.v1_errors(401, 403, 404, 503)}
    )
    def get(self, request, job_id) -> Reply:
        self.require_key(ApiKey.Scope.ADMIN)
        job = job_queue.view(job_id)
        return Reply(200, {
            "job_id": job.job_id, "task": job.task, "state": job.state, "attempts": job.attempts,
            "error": job.error, "enqueued_at": _iso(job.enqueued_at), "ended_at": _iso(job.ended_at),
        })  # fmt: skip


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
