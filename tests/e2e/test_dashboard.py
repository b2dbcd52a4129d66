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
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import Gateway, Mock, free_port
from conftest import http as call

KEY = "sk-e2e-upstream-key"


@pytest.fixture
def browser():
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1280,1500",
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


FORMAT_LABELS = {
    "openai": "OpenAI-compatible (Chat Completions)",
    "anthropic": "Anthropic Messages",
    "responses": "OpenAI Responses",
    "gemini": "Google Gemini",
}


def chat(gateway, model):
    return call("POST", gateway.url + "/v1/chat/completions",
                {"model": model, "messages": [{"role": "user", "content": "hi"}]})


def test_dashboard_adds_a_known_provider_from_the_catalog(browser, gateway, mock, artifacts):
    status, catalog = gateway.api("GET", "/api/catalog")
    assert status == 200 and len(catalog) > 1, (status, catalog)
    groq = next(e for e in catalog if e["id"] == "groq")
    needy = next(e for e in catalog if e["needs"])

    browser.get(gateway.url + "/")
    wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, '#catalog-select option[value="groq"]')))
    picker = Select(browser.find_element(By.ID, "catalog-select"))
    assert picker.first_selected_option.text == "Custom…"
    assert picker.options[0].get_attribute("value") == ""
    shown = [o.text for o in picker.options[1:]]
    assert shown == [f"{e['name']} ({e['alias']})" for e in sorted(catalog, key=lambda e: (e["name"].lower(), e["id"]))]
    form = browser.find_element(By.ID, "add-provider")
    fmt = Select(form.find_element(By.NAME, "format"))
    assert {o.get_attribute("value"): o.text for o in fmt.options} == FORMAT_LABELS
    assert "Leave empty for local servers without a key" in form.text

    # A provider whose URL has account-specific parts: the user must type the URL in.
    picker.select_by_value(needy["id"])
    hint = wait(browser).until(EC.visibility_of_element_located((By.ID, "catalog-hint")))
    assert hint.text.startswith("Enter the base URL: it contains "), hint.text
    assert all("{%s}" % n in hint.text for n in needy["needs"]), (hint.text, needy)
    assert form.find_element(By.NAME, "base_url").get_attribute("value") == ""
    assert form.find_element(By.NAME, "name").get_attribute("value") == needy["alias"]
    assert fmt.first_selected_option.get_attribute("value") == needy["format"]
    browser.execute_script("arguments[0].scrollIntoView()", form)
    browser.save_screenshot(str(artifacts / "dashboard-catalog-hint.png"))

    # A plain one pre-fills everything from the catalog.
    picker.select_by_value("groq")
    base_url = form.find_element(By.NAME, "base_url")
    wait(browser).until(lambda _: base_url.get_attribute("value") == groq["base_url"])
    assert not browser.find_elements(By.ID, "catalog-hint")
    assert form.find_element(By.NAME, "name").get_attribute("value") == groq["alias"]
    assert fmt.first_selected_option.get_attribute("value") == groq["format"]
    assert form.find_element(By.NAME, "models").get_attribute("value") == ", ".join(groq["models"])

    # Still editable: point it at the mock.
    base_url.clear()
    base_url.send_keys(mock.base_url)
    models = form.find_element(By.NAME, "models")
    models.clear()
    models.send_keys("mock-small")
    form.find_element(By.NAME, "api_key").send_keys(KEY)
    browser.find_element(By.ID, "add-provider-submit").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "form-message"), f"Added provider {groq['alias']}"))
    row = wait(browser).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f'tr[data-provider="{groq["alias"]}"]')))
    assert f"from {groq['name']}" in row.text and FORMAT_LABELS[groq["format"]] in row.text, row.text
    assert picker.first_selected_option.text == "Custom…", "the form is reset"
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "example-model"), "groq/mock-small"))
    browser.save_screenshot(str(artifacts / "dashboard-catalog.png"))

    status, providers = gateway.api("GET", "/api/providers")
    added = [p for p in providers if p["name"] == groq["alias"]][0]
    assert added["catalog_id"] == "groq" and added["base_url"] == mock.base_url, added
    assert added["has_key"] is True and added["models"] == ["mock-small"], added
    status, body = chat(gateway, f"{groq['alias']}/mock-small")
    assert status == 200, (status, body)


def test_dashboard_adds_a_keyless_provider(browser, gateway):
    local = Mock()  # like Ollama or LM Studio: no key needed
    try:
        browser.get(gateway.url + "/")
        wait(browser).until(EC.text_to_be_present_in_element((By.ID, "gateway-status"), "running"))
        form = browser.find_element(By.ID, "add-provider")
        form.find_element(By.NAME, "name").send_keys("local")
        form.find_element(By.NAME, "base_url").send_keys(local.base_url)
        form.find_element(By.NAME, "models").send_keys("mock-small")
        assert form.find_element(By.NAME, "api_key").get_attribute("value") == ""
        browser.find_element(By.ID, "add-provider-submit").click()
        wait(browser).until(EC.text_to_be_present_in_element((By.ID, "form-message"), "Added provider local"))
        row = wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, 'tr[data-provider="local"]')))
        assert row.find_element(By.CSS_SELECTOR, "td.has-key").text == "no"
        status, providers = gateway.api("GET", "/api/providers")
        assert [(p["name"], p["has_key"], p["catalog_id"]) for p in providers] == [("local", False, None)], providers
        status, body = chat(gateway, "local/mock-small")
        assert status == 200, (status, body)
        assert "authorization" not in {k.lower() for k in local.requests()[-1].get("headers", {})}
    finally:
        local.proc.stop()


def test_dashboard_warns_about_a_broken_catalog_file(browser, data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / "providers.toml").write_text("[[provider]]\nthis is not toml\n")
    gateway = Gateway(data_dir)
    try:
        error = gateway.api("GET", "/api/health")[1]["catalog"]["error"]
        assert error and "providers.toml" in error, error
        browser.get(gateway.url + "/")
        warning = wait(browser).until(EC.visibility_of_element_located((By.ID, "catalog-warning")))
        assert error in warning.text, warning.text
        # The built-in catalog still works.
        wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, '#catalog-select option[value="groq"]')))
    finally:
        gateway.stop()


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


class _Server(socketserver.ThreadingTCPServer):
    # Chromium may open a speculative connection and never send on it: with a single-threaded
    # server, shutdown() then waits for Chromium to drop it (measured: ~110 s).
    daemon_threads = True
    block_on_close = False


def test_a_foreign_web_page_cannot_use_the_gateway(browser, gateway, mock):
    port = free_port()
    server = _Server(("127.0.0.1", port), _Page)
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
