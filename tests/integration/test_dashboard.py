"""The dashboard in a real headless browser: it shows actors as they come and go, and wants its token."""

from __future__ import annotations

import json
import os
import shutil
import socket
import urllib.error
import urllib.request

import pytest

import greenroom as ray
from greenroom import tune
from greenroom.dashboard import start_dashboard
from greenroom.util import _hooks

pytestmark = pytest.mark.timeout(120)

CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOT = os.environ.get("GREENROOM_DASHBOARD_SCREENSHOT")  # where to keep a screenshot of the page, if set


@ray.remote(num_gpus=1)
class Probe:
    def ping(self):
        return os.getpid()


def _status(url: str, headers: dict | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture
def dashboard(gr, tmp_path):
    (tmp_path / "worker-1.log").write_text("hello from the worker log\n")
    dash = start_dashboard(log_dir=str(tmp_path))
    yield dash
    dash.stop()


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None or not os.path.exists(CHROMEDRIVER):
        pytest.skip("needs chromium and chromedriver: apt-get install -y chromium chromium-driver")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium: pip install selenium")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1800"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_the_page_shows_an_actor_alive_then_dead(dashboard, browser, tmp_path):
    """Load the page, create an actor: its row appears ALIVE with its pid and GPU; kill it: DEAD."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(dashboard.url)
    wait = WebDriverWait(browser, 30)
    wait.until(lambda d: "updated" in d.find_element(By.ID, "status").text)
    probe = Probe.options(name="dash-probe").remote()
    pid = ray.get(probe.ping.remote(), timeout=30)
    row = '[data-actor-name="dash-probe"]'
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row + '[data-state="ALIVE"]'))
    text = browser.find_element(By.CSS_SELECTOR, row).text
    assert "Probe" in text and str(pid) in text and "ALIVE" in text
    wait.until(lambda d: "Probe" in d.find_element(By.CSS_SELECTOR, '#gpus [data-gpu="0"]').text)
    assert "hello from the worker log" in browser.find_element(By.ID, "logs").text
    browser.save_screenshot(SCREENSHOT or str(tmp_path / "dashboard.png"))
    ray.kill(probe)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, row + '[data-state="DEAD"]')
               or not d.find_elements(By.CSS_SELECTOR, row))  # fmt: skip
    wait.until(lambda d: "Probe" not in d.find_element(By.CSS_SELECTOR, '#gpus [data-gpu="0"]').text)


def test_every_request_needs_the_token(dashboard):
    """No token or a wrong one: 403 for the page and the JSON; the token as query, header or cookie: 200."""
    base = f"http://127.0.0.1:{dashboard.port}"
    assert _status(base + "/") == 403
    assert _status(base + "/api/snapshot") == 403
    assert _status(base + "/?token=wrong") == 403
    assert _status(base + "/api/snapshot", {"X-Greenroom-Token": "wrong"}) == 403
    assert _status(dashboard.url) == 200
    assert _status(base + "/api/snapshot", {"X-Greenroom-Token": dashboard.token}) == 200
    assert _status(base + "/api/snapshot", {"Cookie": f"greenroom_dashboard_token={dashboard.token}"}) == 200
    with urllib.request.urlopen(f"{base}/api/snapshot?token={dashboard.token}", timeout=10) as r:
        data = json.load(r)
    assert data["running"] and [g["id"] for g in data["gpus"]] == [0, 1, 2, 3]


def test_it_binds_loopback_only_and_stops_cleanly(gr):
    """A non-loopback host is refused; stop() ends the server (the leak check sees its threads go)."""
    with pytest.raises(ValueError, match="loopback"):
        start_dashboard(host="0.0.0.0")
    dash = start_dashboard(host="localhost", token="t0ken")
    assert dash.url == f"http://localhost:{dash.port}/?token=t0ken"
    dash.stop()
    dash.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(dash.url, timeout=5)


def test_after_shutdown_it_says_so_and_starts_no_node(gr):
    """Polling after shutdown() reports greenroom not running; it never starts a node itself."""
    dash = start_dashboard()
    try:
        ray.shutdown()
        with urllib.request.urlopen(f"http://127.0.0.1:{dash.port}/api/snapshot?token={dash.token}", timeout=10) as r:
            assert json.load(r)["running"] is False
        assert not ray.is_initialized()
    finally:
        dash.stop()


def test_tune_publishes_its_trial_table_for_the_dashboard(gr, tmp_path):
    """A tune run puts its trials (status, parameters, last metrics) in the node's store, finished at the end."""

    def trainable(config):
        for i in range(2):
            tune.report({"score": config["x"] * i})

    tune.run(trainable, config={"x": tune.grid_search([1, 2])}, storage_path=str(tmp_path), name="dash_run",
             verbose=0)  # fmt: skip
    [key] = _hooks.kv_keys("tune/dash_run")
    table = json.loads(_hooks.kv_get(key))
    assert table["finished"] and table["name"] == "dash_run"
    assert sorted((t["config"]["x"], t["status"], t["metrics"]["score"]) for t in table["trials"]) == [
        ("1", "TERMINATED", 1), ("2", "TERMINATED", 2),
    ]  # fmt: skip


def test_init_include_dashboard_serves_it_beside_the_node_until_shutdown(capsys):
    """init(include_dashboard=True): the context's dashboard_url (with its token) serves the page and
    the node's snapshot; shutdown() stops it (the leak check sees its threads go)."""
    context = ray.init(num_cpus=1, num_gpus=0, include_dashboard=True, dashboard_port=0)
    try:
        url = context["dashboard_url"]
        assert url.startswith("http://127.0.0.1:") and "?token=" in url and url in capsys.readouterr().out
        assert _status(url) == 200 and _status(url.split("?")[0]) == 403
        with urllib.request.urlopen(url.replace("/?", "/api/snapshot?"), timeout=10) as r:
            assert json.load(r)["running"] is True
    finally:
        ray.shutdown()
    with pytest.raises(OSError):
        urllib.request.urlopen(url, timeout=5)


def test_a_dashboard_that_cannot_start_leaves_no_node():
    """A non-loopback host or a port taken: init raises, and no node is left running."""
    with pytest.raises(ValueError, match="loopback"):
        ray.init(num_cpus=1, num_gpus=0, include_dashboard=True, dashboard_host="0.0.0.0")
    assert not ray.is_initialized()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        with pytest.raises(RuntimeError, match="could not serve"):
            ray.init(num_cpus=1, num_gpus=0, include_dashboard=True, dashboard_port=taken.getsockname()[1])
    assert not ray.is_initialized()
    with pytest.raises(ValueError, match="dashboard_port"):
        ray.init(num_cpus=1, include_dashboard=True, dashboard_port=-1)
    assert not ray.is_initialized()


def test_rays_default_port_taken_gives_a_free_one():
    """Without dashboard_port, 8265 (Ray's) is used; when something holds it, a free port instead."""
    holder = socket.socket()
    try:
        holder.bind(("127.0.0.1", 8265))
        holder.listen(1)
    except OSError:  # something on this machine holds it already: the same case
        pass
    try:
        context = ray.init(num_cpus=1, num_gpus=0, include_dashboard=True)
        try:
            url = context["dashboard_url"]
            assert not url.startswith("http://127.0.0.1:8265/") and _status(url) == 200
        finally:
            ray.shutdown()
    finally:
        holder.close()
