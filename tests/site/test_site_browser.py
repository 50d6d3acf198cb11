"""The built site in a real browser: Debian's headless Chromium driven by selenium.

Every page must load over HTTP with no console error and no failed request, every chart must
render (Plotly draws an <svg> inside each plot container), and every navigation link must lead
to a page that loads. Screenshots go to a temporary folder (printed) for a human to look at.
Skipped, with the reason, only when chromium or chromedriver is not installed.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
    pytest.skip(
        f"browser tests need Debian's chromium ({CHROMIUM}) and chromium-driver ({CHROMEDRIVER}): "
        "run `make browser` (apt-get install chromium chromium-driver)",
        allow_module_level=True,
    )

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from dashboards.report import chromium_options  # noqa: E402


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def site(fixture_site: tuple[Path, list[Path]]) -> tuple[Path, list[Path]]:
    return fixture_site


@pytest.fixture(scope="session")
def server(site: tuple[Path, list[Path]]) -> Iterator[str]:
    root, _ = site
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="session")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    options = chromium_options(CHROMIUM, profile, 1366, 900)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots: {folder}")
    return folder


def _failed_requests(drv: webdriver.Chrome) -> list[str]:
    """Network failures and HTTP errors from Chromium's performance log (DevTools events)."""
    import json

    failures = []
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        params = msg.get("params", {})
        if msg.get("method") == "Network.loadingFailed":
            failures.append(f"{params.get('errorText')} ({params.get('requestId')})")
        elif msg.get("method") == "Network.responseReceived":
            response = params.get("response", {})
            if int(response.get("status", 200)) >= 400:
                failures.append(f"HTTP {response.get('status')} {response.get('url')}")
            url = str(response.get("url", ""))
            # chrome:// resources are Chromium's own start page loading late on a busy machine; a
            # web page cannot request them
            if not url.startswith(("http://127.0.0.1", "data:", "chrome://", "chrome-untrusted://")):
                failures.append(f"external request {url}")
    return failures


def _full_page_screenshot(drv: webdriver.Chrome, path: Path) -> None:
    """The whole page, not just the viewport (DevTools captureBeyondViewport)."""
    import base64

    width, height = drv.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight];"
    )
    shot = drv.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    path.write_bytes(base64.b64decode(shot["data"]))


def _load(drv: webdriver.Chrome, url: str) -> None:
    drv.get_log("browser")  # drain logs of the previous page
    drv.get_log("performance")
    drv.get(url)
    WebDriverWait(drv, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    # every plot container must hold Plotly's SVG once the page's scripts have run
    WebDriverWait(drv, 30).until(
        lambda d: d.execute_script(
            "return Array.from(document.querySelectorAll('.plot')).every(p => p.querySelector('svg'));"
        )
    )


def test_every_page_loads_without_console_errors_or_failed_requests(driver, server, site, shots) -> None:
    _, pages = site
    for page in pages:
        _load(driver, urljoin(server, page.name))
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == [], f"{page.name}: console errors {errors}"
        assert _failed_requests(driver) == [], f"{page.name}: failed requests"
        assert driver.execute_script("return typeof Plotly") == "object", f"{page.name}: plotly.js not loaded"
        _full_page_screenshot(driver, shots / f"{page.stem}.png")
        assert (shots / f"{page.stem}.png").stat().st_size > 10_000


def test_every_chart_renders_an_svg(driver, server, site) -> None:
    _, pages = site
    charts = 0
    for page in pages:
        _load(driver, urljoin(server, page.name))
        containers = driver.find_elements(By.CSS_SELECTOR, ".plot")
        without_svg = [
            c.get_attribute("id") for c in containers if not c.find_elements(By.CSS_SELECTOR, "svg")
        ]
        assert without_svg == [], f"{page.name}: charts without svg {without_svg}"
        charts += len(containers)
    assert charts >= 28  # overview 3, three published specialties x 6, cost 5, data quality 3


def test_navigation_links_lead_to_pages_that_load(driver, server, site) -> None:
    _, pages = site
    _load(driver, urljoin(server, "index.html"))
    nav = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "header nav a")]
    assert {urlparse(h).path.lstrip("/") for h in nav} == {p.name for p in pages}
    for href in nav:
        _load(driver, href)
        heading = driver.find_element(By.TAG_NAME, "h1").text
        assert heading, f"{href} has no heading"
        current = driver.find_element(By.CSS_SELECTOR, 'header nav a[aria-current="page"]').get_attribute(
            "href"
        )
        assert current == href


def test_specialty_links_on_the_overview_open_their_pages(driver, server) -> None:
    _load(driver, urljoin(server, "index.html"))
    links = driver.find_elements(By.CSS_SELECTOR, ".specialty-links a")
    # in the contract's order (data_contracts/cases.yaml), as the pages are built
    assert [a.text for a in links] == ["Cardiology", "Spine", "Orthopedics", "Gynecology", "Urology"]
    links[1].click()
    WebDriverWait(driver, 30).until(lambda d: d.current_url.endswith("specialty-spine.html"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Spine"


def test_pages_open_from_the_file_system(driver, site) -> None:
    root, _ = site
    driver.get_log("browser")
    driver.get((root / "cost.html").as_uri())
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script(
            "return document.querySelectorAll('.plot').length > 0 && "
            "Array.from(document.querySelectorAll('.plot')).every(p => p.querySelector('svg'));"
        )
    )
    assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []


def test_p_chart_menu_switches_the_outcome(driver, server) -> None:
    _load(driver, urljoin(server, "specialty-spine.html"))
    chart = driver.find_elements(By.CSS_SELECTOR, ".plot")[1]
    shown = "return arguments[0].data.filter(t => t.visible === true).map(t => t.name);"
    assert driver.execute_script(shown, chart)[0] == "Confirmed share"
    # the title is the page's text above the chart, never redrawn by Plotly over the legend
    assert driver.execute_script("return arguments[0].layout.title.text;", chart) == ""
    header = chart.find_element(By.CSS_SELECTOR, "g.updatemenu-header")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", header)
    header.click()
    WebDriverWait(driver, 10).until(
        lambda d: chart.find_elements(By.CSS_SELECTOR, "g.updatemenu-dropdown-button")
    )
    options = chart.find_elements(By.CSS_SELECTOR, "g.updatemenu-dropdown-button")
    labels = [o.text for o in options]
    assert labels[:3] == ["Confirmed", "Less invasive", "Non-surgical"]
    options[2].click()
    WebDriverWait(driver, 10).until(lambda d: d.execute_script(shown, chart)[0] == "Non-surgical share")
    assert driver.execute_script(shown, chart) == [
        "Non-surgical share",
        "Centre line",
        "Upper limit (3σ)",
        "Lower limit (3σ)",
        "Signal (outside 3σ)",
    ]


LAYOUT_JS = (Path(__file__).parent / "layout.js").read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [1024, 1440])
def test_pages_read_without_sideways_scrolling_overlaps_or_cut_tables(
    driver, server, site, shots, width
) -> None:
    """At a laptop's and a desktop's width, on every page: nothing is wider than the viewport, no
    title, legend, axis label or annotation overlaps another (Plotly's SVG included), every
    table's header and last column are in view, and every header explains itself on hover."""
    _, pages = site
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    try:
        problems: dict[str, dict[str, list[str]]] = {}
        checked = {"tables": 0, "texts": 0}
        for page in pages:
            _load(driver, urljoin(server, page.name))
            found = driver.execute_script(LAYOUT_JS + "\nreturn secondlookLayout();")
            assert width - 20 <= found["width"] <= width  # the page's width beside its scrollbar
            checked["tables"] += found["tables"]
            checked["texts"] += found["texts"]
            bad = {k: found[k] for k in ("wide", "overlaps", "clipped", "untitled") if found[k]}
            if bad:
                problems[page.name] = bad
            _full_page_screenshot(driver, shots / f"{page.stem}-{width}.png")
        assert problems == {}
        # the checks saw the pages' tables and text (a selector that matched nothing would pass)
        assert checked["tables"] >= 30 and checked["texts"] >= 500
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_the_layout_check_finds_overlaps_and_overflow(driver, server) -> None:
    """The checker itself: a page made to overlap, overflow and cut a table is caught."""
    _load(driver, urljoin(server, "index.html"))
    driver.execute_script(
        """
        const h = document.querySelector('h2');
        const twin = h.cloneNode(true); twin.id = 'twin';
        twin.style.position = 'absolute'; twin.style.top = h.getBoundingClientRect().top + window.scrollY + 'px';
        twin.style.left = h.getBoundingClientRect().left + 'px';
        document.body.appendChild(twin);
        const wide = document.createElement('div'); wide.style.width = '3000px'; wide.textContent = 'wide';
        document.querySelector('main').appendChild(wide);
        document.querySelector('thead th').removeAttribute('title');
        """
    )
    found = driver.execute_script(LAYOUT_JS + "\nreturn secondlookLayout();")
    assert any("#twin" in o for o in found["overlaps"])
    assert any("scrolls sideways" in w for w in found["wide"])
    assert len(found["untitled"]) == 1


def test_show_all_unfolds_a_long_table_and_folds_it_again(driver, server, site) -> None:
    _, pages = site
    folded = next((p for p in pages if 'class="show-all"' in p.read_text(encoding="utf-8")), None)
    assert folded is not None, "no page of the fixture site has a table long enough to fold"
    _load(driver, urljoin(server, folded.name))
    button = driver.find_element(By.CSS_SELECTOR, "button.show-all")
    table = driver.execute_script(
        "return arguments[0].previousElementSibling.querySelector('table');", button
    )
    rows = (
        "return Array.from(arguments[0].querySelectorAll('tbody tr')).filter(r => r.offsetHeight > 0).length;"
    )
    total = int(button.get_attribute("data-rows"))
    assert driver.execute_script(rows, table) == 15 < total
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    assert driver.execute_script(rows, table) == total
    assert button.get_attribute("aria-expanded") == "true" and button.text == "Show fewer rows"
    button.click()
    assert driver.execute_script(rows, table) == 15
