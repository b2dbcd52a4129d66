"""The official google-genai SDK (what Gemini CLI is built on) through the gateway, against
upstreams of every format: Chat, Messages, Responses and Gemini itself (passthrough)."""

import pytest
from google import genai
from google.genai import types

KEY = "sk-e2e-upstream-key"
ALL = ["oai/mock-small", "ant/claude-mock", "rsp/codex-mock", "gem/gemini-mock"]
WEATHER = types.FunctionDeclaration(
    name="get_weather", description="Current weather",
    parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
NO_AUTO = types.AutomaticFunctionCallingConfig(disable=True)


@pytest.fixture
def gw(gateway, mock):
    gateway.add_provider("oai", mock.base_url, KEY, ["mock-small"], format="openai")
    gateway.add_provider("ant", mock.base_url, KEY, ["claude-mock"], format="anthropic")
    gateway.add_provider("rsp", mock.base_url, KEY, ["codex-mock"], format="responses")
    gateway.add_provider("gem", f"{mock.url}/v1beta", KEY, ["gemini-mock"], format="gemini")
    return gateway


def client(gw):
    # Kept on the gateway object: a Client that is garbage-collected closes its HTTP connection.
    if not hasattr(gw, "genai"):
        gw.genai = genai.Client(api_key="sy-local",
                                http_options=types.HttpOptions(base_url=gw.url, api_version="v1beta", timeout=30_000))
    return gw.genai


@pytest.mark.parametrize("upstream", ALL)
def test_generate_content(gw, mock, upstream):
    r = client(gw).models.generate_content(
        model=upstream, contents="Hello Gemini",
        config=types.GenerateContentConfig(system_instruction="Be brief.", max_output_tokens=200))
    assert r.text == "Hello from mock-upstream! You said: Hello Gemini"
    assert r.candidates[0].finish_reason == types.FinishReason.STOP
    assert r.usage_metadata.total_token_count > 0
    seen = mock.requests()[-1]
    if upstream.startswith("gem/"):
        assert seen["path"] == "/v1beta/models/gemini-mock:generateContent"
        assert seen["headers"]["x-goog-api-key"] == KEY
        assert seen["body"]["systemInstruction"]["parts"][0]["text"] == "Be brief."
    elif upstream.startswith("ant/"):
        assert seen["body"]["system"] == "Be brief." and seen["body"]["max_tokens"] == 200


@pytest.mark.parametrize("upstream", ALL)
def test_generate_content_stream(gw, mock, upstream):
    chunks = list(client(gw).models.generate_content_stream(model=upstream, contents="stream it"))
    text = "".join(c.text or "" for c in chunks)
    assert text == "Hello from mock-upstream! You said: stream it"
    assert len(chunks) >= 3, "chunks arrive one by one"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    if upstream.startswith("gem/"):
        assert mock.requests()[-1]["path"] == "/v1beta/models/gemini-mock:streamGenerateContent"


@pytest.mark.parametrize("upstream", ALL)
@pytest.mark.parametrize("stream", [False, True])
def test_function_call_round_trip(gw, upstream, stream):
    c = client(gw)
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])],
                                         automatic_function_calling=NO_AUTO)
    contents = [types.Content(role="user", parts=[types.Part.from_text(text="Weather in Paris?")])]
    if stream:
        calls, model_parts = [], []
        for ch in c.models.generate_content_stream(model=upstream, contents=contents, config=config):
            calls += ch.function_calls or []
            if ch.candidates and ch.candidates[0].content and ch.candidates[0].content.parts:
                model_parts += [p for p in ch.candidates[0].content.parts if p.function_call]
        model_turn = types.Content(role="model", parts=model_parts)
    else:
        r = c.models.generate_content(model=upstream, contents=contents, config=config)
        calls, model_turn = r.function_calls, r.candidates[0].content
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].args == {"city": "Paris"}
    contents += [model_turn, types.Content(role="user", parts=[
        types.Part.from_function_response(name="get_weather", response={"output": "Cloudy"})])]
    r = c.models.generate_content(model=upstream, contents=contents, config=config)
    assert r.text == "Tool said: Cloudy"


def test_errors_are_gemini_errors(gw):
    with pytest.raises(genai.errors.ClientError) as e:
        client(gw).models.generate_content(model="nope/x", contents="x")
    assert e.value.code == 404 and e.value.status == "NOT_FOUND"
    assert "oai/mock-small" in e.value.message
    with pytest.raises(genai.errors.ClientError) as e:
        client(gw).models.generate_content(model="oai/error-429", contents="x")
    assert e.value.code == 429 and e.value.status == "RESOURCE_EXHAUSTED"


def test_model_list(gw):
    names = [m.name for m in client(gw).models.list()]
    assert "models/gem/gemini-mock" in names and "models/oai/mock-small" in names


def test_claude_code_model_names_reach_gemini_through_an_alias(gw, mock):
    import anthropic

    status, body = gw.api("POST", "/api/aliases", {"pattern": "claude-*", "target": "gem/gemini-mock"})
    assert status == 201, body
    c = anthropic.Anthropic(base_url=gw.url, api_key="sy-local", max_retries=0, timeout=30)
    with c.messages.stream(model="claude-code-test-model", max_tokens=128,
                           messages=[{"role": "user", "content": "from Claude Code"}]) as s:
        text = "".join(s.text_stream)
    assert text == "Hello from mock-upstream! You said: from Claude Code"
    assert mock.requests()[-1]["path"] == "/v1beta/models/gemini-mock:streamGenerateContent"
