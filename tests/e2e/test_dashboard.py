"""The dashboard served by the headless gateway, driven in Debian's headless Chromium."""

import http.server
import socketserver
import tempfile
import threading

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from conftest import free_port

KEY = "sk-e2e-upstream-key"


@pytest.fixture
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,900",
                f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def wait(driver, seconds=15):
    return WebDriverWait(driver, seconds)


def test_dashboard_shows_status_and_providers_and_adds_one(browser, gateway, mock, artifacts):
    gateway.add_provider("acme", mock.base_url, KEY, ["mock-small"])
    browser.get(gateway.url + "/")
    wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-provider="acme"]')))
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "gateway-status"), "running"))
    keychain = browser.find_element(By.ID, "keychain-status").text
    assert "secret-service" in keychain and "not persistent" not in keychain, keychain
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-provider="acme"]').text
    assert "mock-small" in row and mock.base_url in row, row

    form = browser.find_element(By.ID, "add-provider")
    form.find_element(By.NAME, "name").send_keys("second")
    form.find_element(By.NAME, "base_url").send_keys(mock.base_url)
    form.find_element(By.NAME, "api_key").send_keys("sk-typed-in-the-form")
    form.find_element(By.NAME, "models").send_keys("mock-large, mock-small")
    browser.find_element(By.ID, "add-provider-submit").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "form-message"), "Added provider second"))
    wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-provider="second"]')))
    assert form.find_element(By.NAME, "api_key").get_attribute("value") == "", "the key is cleared"
    assert "sk-typed-in-the-form" not in browser.page_source

    status, providers = gateway.api("GET", "/api/providers")
    second = [p for p in providers if p["name"] == "second"][0]
    assert second["models"] == ["mock-large", "mock-small"] and second["has_key"] is True
    browser.save_screenshot(str(artifacts / "dashboard.png"))

    # A rejected submission shows the server's reason.
    form.find_element(By.NAME, "name").send_keys("second")
    form.find_element(By.NAME, "base_url").send_keys(mock.base_url)
    form.find_element(By.NAME, "api_key").send_keys("sk-other")
    browser.find_element(By.ID, "add-provider-submit").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "form-message"), "already exists"))


class _Page(http.server.SimpleHTTPRequestHandler):
    def do_GET(self):
        body = b"<!doctype html><title>some other site</title><p>hello</p>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_foreign_web_page_cannot_use_the_gateway(browser, gateway, mock):
    port = free_port()
    server = socketserver.TCPServer(("127.0.0.1", port), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://127.0.0.1:{port}/")
        outcome = browser.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            fetch(arguments[0] + '/api/providers', {method: 'POST',
                headers: {'Content-Type': 'application/json', 'X-Switchyard-Admin': '1'},
                body: JSON.stringify({name: 'evil', base_url: 'http://evil.example/v1', api_key: 'k'})})
              .then(r => done('status ' + r.status), e => done('blocked: ' + e));
            """,
            gateway.url,
        )
        assert outcome.startswith("blocked"), outcome
        outcome = browser.execute_async_script(
            """
            const done = arguments[arguments.length - 1];
            fetch(arguments[0] + '/v1/chat/completions', {method: 'POST', mode: 'no-cors',
                headers: {'Content-Type': 'text/plain'}, body: '{"model":"acme/mock-small","messages":[]}'})
              .then(r => done('sent'), e => done('blocked: ' + e));
            """,
            gateway.url,
        )
    finally:
        server.shutdown()
        server.server_close()
    assert gateway.api("GET", "/api/providers")[1] == [], "the foreign page created nothing"
    assert mock.requests() == [], "a no-cors simple request from a foreign page never reached the upstream"
