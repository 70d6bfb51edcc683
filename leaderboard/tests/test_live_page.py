"""The live page, driven in a real headless Chromium against the server `make run` starts: the top 10
as scores land over REST, a followed player's rank and neighbours, the flash when they are
overtaken, reconnecting after the live server dies, and 404 for an unknown game."""

import json
import os
import re
import shutil
import signal
import urllib.error
import urllib.request

import pytest
from django.test import override_settings
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from .conftest import LiveServer, post_score

pytestmark = [pytest.mark.server, pytest.mark.django_db(transaction=True)]

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail(f"the live page's tests need {CHROMIUM} and {CHROMEDRIVER}: `make chromium` installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def open_page(browser, server: LiveServer, query: str = "") -> None:
    """The default game's page, once its socket has brought the first top."""
    browser.get(f"{server.url}/live/default{query}")
    wait_for_state(browser, "open", timeout=10)


def wait_for_state(browser, state: str, timeout: float) -> None:
    WebDriverWait(browser, timeout).until(lambda _: status(browser) == state)


def status(browser) -> str:
    return browser.find_element(By.ID, "status").get_attribute("data-state")


def follow(browser, player_id: str) -> None:
    field = browser.find_element(By.ID, "player-id")
    field.clear()
    field.send_keys(player_id)
    browser.find_element(By.ID, "follow-button").click()


def wait_for_rank(browser, rank: int, timeout: float = 5) -> None:
    standing = browser.find_element(By.ID, "standing")
    WebDriverWait(browser, timeout).until(lambda _: standing.get_attribute("data-rank") == str(rank))


def rows(browser, table_id: str) -> list[tuple[str, str, str]]:
    return [
        tuple(cell.text for cell in row.find_elements(By.TAG_NAME, "td"))
        for row in browser.find_elements(By.CSS_SELECTOR, f"#{table_id} tr")
    ]


def test_a_score_posted_over_rest_shows_in_the_top_10_within_a_second(live, browser):
    post_score(live, "amy", 40)
    open_page(browser, live)
    assert rows(browser, "top") == [("1", "amy", "40")]

    post_score(live, "bob", 95000)
    WebDriverWait(browser, 1.0, poll_frequency=0.05).until(
        lambda _: browser.find_elements(By.CSS_SELECTOR, '#top tr[data-player-id="bob"]')
    )

    assert rows(browser, "top") == [("1", "bob", "95000"), ("2", "amy", "40")]
    assert browser.find_element(By.ID, "total-players").text == "2"


def test_typing_a_player_id_shows_their_rank_and_neighbours(live, browser):
    for player_id, points in [("amy", 60), ("bob", 50), ("cy", 40), ("dee", 30), ("eve", 20), ("fay", 10)]:
        post_score(live, player_id, points)
    open_page(browser, live)

    follow(browser, "dee")
    wait_for_rank(browser, 4)

    assert browser.find_element(By.ID, "standing").text == "dee: #4 with 30"
    assert rows(browser, "neighbours") == [
        ("2", "bob", "50"), ("3", "cy", "40"), ("4", "dee", "30"), ("5", "eve", "20"), ("6", "fay", "10"),
    ]  # fmt: skip
    followed = browser.find_element(By.CSS_SELECTOR, '#neighbours tr[data-player-id="dee"]')
    assert "me" in followed.get_attribute("class").split()


def test_a_player_without_a_score_shows_their_rank_once_they_score(live, browser):
    post_score(live, "amy", 60)
    open_page(browser, live)

    follow(browser, "zed")
    standing = browser.find_element(By.ID, "standing")
    WebDriverWait(browser, 5).until(lambda _: standing.text == "zed has no score yet.")
    post_score(live, "zed", 70)
    wait_for_rank(browser, 1)

    assert rows(browser, "neighbours") == [("1", "zed", "70"), ("2", "amy", "60")]


def test_the_banner_flashes_when_the_followed_player_is_overtaken(live, browser):
    post_score(live, "amy", 50)
    post_score(live, "bob", 10)
    open_page(browser, live, "?player_id=bob")
    wait_for_rank(browser, 2)
    banner = browser.find_element(By.ID, "overtaken")
    assert not banner.is_displayed()

    post_score(live, "cy", 20)
    WebDriverWait(browser, 5, poll_frequency=0.05).until(lambda _: "overtaken" in banner.get_attribute("class"))

    assert banner.is_displayed()
    assert banner.text == "cy (20) passed bob, now #3."
    wait_for_rank(browser, 3)
    assert rows(browser, "neighbours") == [("1", "amy", "50"), ("2", "cy", "20"), ("3", "bob", "10")]


def test_the_page_reconnects_when_the_live_server_comes_back(live, browser):
    open_page(browser, live)
    (process,) = [child for child, command in live.children() if command[-3:-2] == ["live"]]
    os.killpg(process.pid, signal.SIGKILL)  # its session: granian's worker, holding the page's socket, too
    wait_for_state(browser, "reconnecting", timeout=5)

    wait_for_state(browser, "open", timeout=30)
    post_score(live, "amy", 5)

    WebDriverWait(browser, 5).until(lambda _: rows(browser, "top") == [("1", "amy", "5")])


def test_an_unknown_game_is_a_404_page(live):
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{live.url}/live/nope", timeout=5)

    assert answer.value.code == 404
    assert answer.value.headers.get_content_type() == "text/html"
    assert "There is no game <code>nope</code>." in answer.value.read().decode()


def test_the_page_names_the_live_server_on_the_requests_host_or_the_public_url(default_board, client, settings):
    assert socket_url(client) == f"ws://testserver:{settings.WS_PORT}/v1/ws/leaderboard"
    with override_settings(LIVE_PUBLIC_URL="wss://games.example.com/"):
        assert socket_url(client) == "wss://games.example.com/v1/ws/leaderboard"


def socket_url(client) -> str:
    page = client.get("/live/default").content.decode()
    config = re.search(r'<script id="live-config" type="application/json">(.*?)</script>', page)[1]
    return json.loads(config)["socket_url"]
