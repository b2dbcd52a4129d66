"""The dashboard served by the headless gateway, driven in Debian's headless Chromium."""

import http.server
import json
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
    "kiro": "Kiro (AWS event stream)",
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


# ---- routing, usage, client keys and coding tools panels ----

def add_provider_in_ui(browser, name, base_url, key, models):
    form = browser.find_element(By.ID, "add-provider")
    form.find_element(By.NAME, "name").send_keys(name)
    form.find_element(By.NAME, "base_url").send_keys(base_url)
    form.find_element(By.NAME, "api_key").send_keys(key)
    form.find_element(By.NAME, "models").send_keys(models)
    browser.find_element(By.ID, "add-provider-submit").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "form-message"), f"Added provider {name}"))
    wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, f'tr[data-provider="{name}"]')))


def create_combo_in_ui(browser, name, strategy, picks, typed=""):
    form = browser.find_element(By.ID, "add-combo")
    form.find_element(By.NAME, "name").send_keys(name)
    Select(form.find_element(By.NAME, "strategy")).select_by_value(strategy)
    targets = form.find_element(By.NAME, "targets")
    for pick in picks:
        wait(browser).until(EC.presence_of_element_located(
            (By.CSS_SELECTOR, f'#target-picker option[value="{pick}"]')))
        Select(browser.find_element(By.ID, "target-picker")).select_by_value(pick)
        wait(browser).until(lambda _: targets.get_attribute("value").endswith(pick + "\n"))
        assert Select(browser.find_element(By.ID, "target-picker")).first_selected_option.get_attribute("value") == ""
    if typed:
        targets.send_keys(typed)
    browser.find_element(By.ID, "add-combo-submit").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "combos-message"), f"Created combo {name}"))
    return wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, f'tr[data-combo="{name}"]')))


def combo_button(browser, combo, cls):
    return browser.find_element(By.CSS_SELECTOR, f'tr[data-combo="{combo}"] button.{cls}')


def refresh_usage_until(browser, predicate, seconds=20):
    """Usage is written in batches: press Refresh until the panel shows what we expect."""
    def check(_):
        button = browser.find_element(By.ID, "usage-refresh")
        if button.is_enabled():
            button.click()
        try:
            return predicate()
        except Exception:  # rows are re-rendered while we look
            return False
    WebDriverWait(browser, seconds, poll_frequency=0.5).until(check)


def test_dashboard_combos_accounts_and_usage(browser, gateway, mock, artifacts):
    browser.get(gateway.url + "/")
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "gateway-status"), "running"))
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "alias-hint"), "no combo is active yet"))
    assert browser.find_element(By.ID, "combo-alias").text == "switchyard"
    add_provider_in_ui(browser, "acme", mock.base_url, KEY, "mock-small, mock-large")

    # The provider's default account is listed under it.
    default = wait(browser).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, 'tr[data-accounts-for="acme"] li[data-account="default"]')))
    assert "enabled" in default.text and "priority 1" in default.text, default.text

    # A combo: one target from the picker, one typed in; order is kept.
    row = create_combo_in_ui(browser, "main", "priority", ["acme/mock-small"], "acme/mock-large")
    assert "acme/mock-small\nacme/mock-large" in row.text, row.text
    status, combos = gateway.api("GET", "/api/combos")
    main = next(c for c in combos if c["name"] == "main")
    assert main["strategy"] == "priority", main
    assert [(t["provider"], t["model"]) for t in main["targets"]] == [("acme", "mock-small"), ("acme", "mock-large")]
    assert browser.find_element(By.CSS_SELECTOR, '#add-combo [name="targets"]').get_attribute("value") == ""

    # Dry run.
    combo_button(browser, "main", "test-combo").click()
    serve = wait(browser).until(EC.visibility_of_element_located((By.ID, "would-serve")))
    assert serve.text == "acme/mock-small", serve.text
    checks = browser.find_elements(By.CSS_SELECTOR, "#combo-test-result li[data-target]")
    assert [(c.get_attribute("data-target"), c.text.split()[-1]) for c in checks] == [
        ("acme/mock-small", "available"), ("acme/mock-large", "available")], [c.text for c in checks]

    # Activate through the UI.
    assert gateway.api("GET", "/api/combos/active")[1]["name"] is None
    combo_button(browser, "main", "activate-combo").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "active-combo-name"), "main"))
    assert gateway.api("GET", "/api/combos/active")[1] == {"name": "main", "alias": "switchyard"}
    assert "active" in browser.find_element(By.CSS_SELECTOR, 'tr[data-combo="main"] td.name').text
    assert not combo_button(browser, "main", "activate-combo").is_enabled()

    # A request through the gateway with the alias shows up in the usage panel.
    status, body = chat(gateway, "switchyard")
    assert status == 200, (status, body)

    def usage_shown():
        cells = browser.find_element(By.CSS_SELECTOR, '#usage-by-provider tr[data-group="acme"] td.requests')
        first = browser.find_element(By.CSS_SELECTOR, "#recent-requests tbody tr")
        return cells.text == "1" and "acme/mock-small" in first.text and "200 ok" in first.text \
            and "via main" in first.text and "switchyard" in first.text
    refresh_usage_until(browser, usage_shown)
    tokens = browser.find_element(By.CSS_SELECTOR, "#recent-requests tbody tr td.tokens").text
    assert tokens == f"{body['usage']['prompt_tokens']}/{body['usage']['completion_tokens']}", tokens

    # A second account for the provider, then disable it.
    add = browser.find_element(By.CSS_SELECTOR, 'form.add-account[data-provider="acme"]')
    add.find_element(By.NAME, "label").send_keys("backup")
    add.find_element(By.NAME, "api_key").send_keys("sk-backup-account")
    add.find_element(By.NAME, "priority").send_keys("2")
    add.find_element(By.CSS_SELECTOR, "button.add-account-submit").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "accounts-message"), "Added account acme/backup"))
    backup_sel = 'tr[data-accounts-for="acme"] li[data-account="backup"]'
    backup = wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, backup_sel)))
    assert backup.get_attribute("data-enabled") == "true" and "priority 2" in backup.text, backup.text
    assert "sk-backup-account" not in browser.page_source
    accounts = {a["label"]: a for a in gateway.api("GET", "/api/providers")[1][0]["accounts"]}
    assert accounts["backup"]["enabled"] is True and accounts["backup"]["priority"] == 2, accounts
    browser.find_element(By.CSS_SELECTOR, f"{backup_sel} button.toggle-account").click()
    wait(browser).until(lambda b: b.find_element(By.CSS_SELECTOR, backup_sel).get_attribute("data-enabled") == "false")
    accounts = {a["label"]: a for a in gateway.api("GET", "/api/providers")[1][0]["accounts"]}
    assert accounts["backup"]["enabled"] is False and accounts["default"]["enabled"] is True, accounts
    # A duplicate label: the gateway's reason is shown.
    add = browser.find_element(By.CSS_SELECTOR, 'form.add-account[data-provider="acme"]')
    add.find_element(By.NAME, "label").send_keys("backup")
    add.find_element(By.NAME, "api_key").send_keys("sk-other")
    add.find_element(By.CSS_SELECTOR, "button.add-account-submit").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "accounts-message"), "already has an account"))

    # A combo that uses another one; deleting the used one is refused with the gateway's reason.
    create_combo_in_ui(browser, "outer", "round-robin", ["combo:main"])
    outer = next(c for c in gateway.api("GET", "/api/combos")[1] if c["name"] == "outer")
    assert outer["strategy"] == "round-robin" and outer["targets"][0]["kind"] == "combo", outer
    combo_button(browser, "main", "delete-combo").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "combos-message"), "is a target of outer"))
    assert "error" in browser.find_element(By.ID, "combos-message").get_attribute("class")
    browser.save_screenshot(str(artifacts / "dashboard-routing.png"))
    combo_button(browser, "outer", "delete-combo").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "combos-message"), "Deleted combo outer"))
    wait(browser).until(EC.invisibility_of_element_located((By.CSS_SELECTOR, 'tr[data-combo="outer"]')))
    assert [c["name"] for c in gateway.api("GET", "/api/combos")[1]] == ["main"]


def test_dashboard_client_keys_are_shown_once(browser, gateway, artifacts):
    browser.get(gateway.url + "/")
    wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#client-keys tbody"), "No client keys yet"))
    toggle = browser.find_element(By.ID, "require-api-key")
    wait(browser).until(lambda _: toggle.is_enabled())
    assert not toggle.is_selected()

    form = browser.find_element(By.ID, "create-key")
    form.find_element(By.NAME, "label").send_keys("laptop")
    form.find_element(By.NAME, "daily_usd").send_keys("5")
    browser.find_element(By.ID, "create-key-submit").click()
    shown = wait(browser).until(EC.visibility_of_element_located((By.ID, "new-key-value"))).text
    assert "Copy it now" in browser.find_element(By.ID, "new-key").text
    status, keys = gateway.api("GET", "/api/keys")
    assert len(keys) == 1 and keys[0]["label"] == "laptop" and keys[0]["daily_usd"] == 5.0, keys
    assert shown.startswith(keys[0]["prefix"]) and len(shown) > len(keys[0]["prefix"]) + 8, (shown, keys)
    row = wait(browser).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f'#client-keys tr[data-key-id="{keys[0]["id"]}"]')))
    assert "$5.00/day" in row.text, row.text
    browser.save_screenshot(str(artifacts / "dashboard-keys.png"))

    # Requiring keys, from the dashboard: the new key works, no key is refused.
    toggle.click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "keys-message"), "now need a key"))
    assert gateway.api("GET", "/api/settings")[1]["require_api_key"] is True
    assert chat(gateway, "any/model")[0] == 401
    status, body = call("POST", gateway.url + "/v1/chat/completions",
                        {"model": "any/model", "messages": [{"role": "user", "content": "hi"}]},
                        {"Authorization": f"Bearer {shown}"})
    assert status != 401, (status, body)

    # After a reload only the prefix is left.
    browser.refresh()
    row = wait(browser).until(EC.presence_of_element_located(
        (By.CSS_SELECTOR, f'#client-keys tr[data-key-id="{keys[0]["id"]}"]')))
    assert keys[0]["prefix"] in row.find_element(By.CSS_SELECTOR, "td.prefix").text
    assert shown not in browser.page_source
    assert not browser.find_elements(By.ID, "new-key")
    toggle = browser.find_element(By.ID, "require-api-key")
    wait(browser).until(lambda _: toggle.is_enabled() and toggle.is_selected())

    row.find_element(By.CSS_SELECTOR, "button.revoke-key").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "keys-message"), "Revoked laptop"))
    wait(browser).until(EC.text_to_be_present_in_element(
        (By.CSS_SELECTOR, f'#client-keys tr[data-key-id="{keys[0]["id"]}"]'), "revoked"))
    assert gateway.api("GET", "/api/keys")[1][0]["revoked_at"] is not None
    browser.find_element(By.ID, "require-api-key").click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "keys-message"), "no longer need a key"))
    assert gateway.api("GET", "/api/settings")[1]["require_api_key"] is False


def test_dashboard_notification_settings_persist(browser, gateway):
    browser.get(gateway.url + "/")
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "how-to-use"), "means the active combo"))
    assert "switchyard" in browser.find_element(By.ID, "model-switchyard").text
    labels = {"notify-thresholds": "Quota 80 %/95 % warnings", "notify-exhausted": "Quota exhausted",
              "notify-resets": "Quota window reset", "notify-failover": "Combo failover"}
    panel = browser.find_element(By.ID, "notify-settings")
    for box_id, label in labels.items():
        assert label in panel.text, panel.text
        box = browser.find_element(By.ID, box_id)
        wait(browser).until(lambda _: box.is_enabled() and box.is_selected())

    failover = browser.find_element(By.XPATH, '//label[span[text()="Combo failover"]]/input')
    failover.click()
    wait(browser).until(EC.text_to_be_present_in_element((By.ID, "keys-message"), "Notification settings saved"))
    notify = gateway.api("GET", "/api/settings")[1]["notify"]
    assert notify == {"thresholds": True, "exhausted": True, "resets": True, "failover": False}, notify

    browser.refresh()
    # The reloaded page renders asynchronously (wasm): wait for the box, then for its state.
    failover = wait(browser).until(EC.presence_of_element_located((By.ID, "notify-failover")))
    wait(browser).until(lambda _: failover.is_enabled())
    assert not failover.is_selected()
    for box_id in ("notify-thresholds", "notify-exhausted", "notify-resets"):
        assert browser.find_element(By.ID, box_id).is_selected(), box_id


def test_dashboard_configures_claude_code(browser, tmp_path, artifacts):
    home = tmp_path / "home"
    settings = home / ".claude" / "settings.json"
    settings.parent.mkdir(parents=True)
    original = b'{\n  "theme": "dark",\n  "permissions": {"allow": ["Bash(ls)"]}\n}\n'
    settings.write_bytes(original)
    gateway = Gateway(tmp_path / "data", env_overrides={"SWITCHYARD_TEST_HOME": str(home)})
    try:
        browser.get(gateway.url + "/")
        row_sel = 'tr[data-tool="claude-code"]'
        row = wait(browser).until(EC.presence_of_element_located((By.CSS_SELECTOR, row_sel)))
        assert "not configured" in row.find_element(By.CSS_SELECTOR, "td.state").text
        assert str(settings) in row.text, row.text

        def press(cls, heading):
            browser.find_element(By.CSS_SELECTOR, f"{row_sel} button.{cls}").click()
            wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, "#tools-output h3"), f"Claude Code: {heading}"))

        # Nothing to restore yet: the gateway's message is shown.
        press("tool-restore", "restored")
        message = browser.find_element(By.ID, "tool-message").text
        status, body = gateway.api("POST", "/api/tools/claude-code/restore")
        assert status == 404 and body["error"]["code"] == "no_original", body
        assert message == body["error"]["message"], message

        press("tool-preview", "preview")
        diff = browser.find_element(By.ID, "tool-diff").text
        assert "ANTHROPIC_BASE_URL" in diff and gateway.url in diff, diff
        assert browser.find_elements(By.CSS_SELECTOR, "#tool-diff .diff-add")
        assert settings.read_bytes() == original, "preview writes nothing"

        press("tool-apply", "applied")
        hint = browser.find_element(By.ID, "tool-restart-hint").text
        assert "Restart Claude Code" in hint, hint
        written = json.loads(settings.read_text())
        assert written["theme"] == "dark" and written["permissions"] == {"allow": ["Bash(ls)"]}, written
        assert written["env"]["ANTHROPIC_BASE_URL"] == gateway.url, written
        wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, f"{row_sel} td.state"), "uses Switchyard"))
        panel = browser.find_element(By.ID, "tools-panel")
        browser.execute_script("arguments[0].scrollIntoView()", panel)
        browser.save_screenshot(str(artifacts / "dashboard-tools.png"))

        press("tool-restore", "restored")
        assert "ANTHROPIC_BASE_URL" in browser.find_element(By.ID, "tool-diff").text
        assert settings.read_bytes() == original, settings.read_bytes()
        wait(browser).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, f"{row_sel} td.state"), "not configured"))
    finally:
        gateway.stop()
