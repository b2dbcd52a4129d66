"""Real SDKs through the gateway to upstreams of the other format (and the same one): the
official `anthropic` SDK against an OpenAI-format upstream, the `openai` SDK against an
Anthropic-format upstream, streaming and tool round trips. The mock upstream speaks both."""

import tempfile
import time

import anthropic
import openai
import pytest

from conftest import Gateway, Mock
from conftest import http as call

KEY = "sk-e2e-upstream-key"
WEATHER = {"name": "get_weather", "description": "Current weather",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
WEATHER_OAI = {"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                                                "parameters": WEATHER["input_schema"]}}


@pytest.fixture
def gw(gateway, mock):
    gateway.add_provider("oai", mock.base_url, KEY, ["mock-small"], format="openai")
    gateway.add_provider("ant", mock.base_url, KEY, ["claude-mock"], format="anthropic")
    gateway.add_provider("rsp", mock.base_url, KEY, ["codex-mock"], format="responses")
    return gateway


def claude(gw):
    return anthropic.Anthropic(base_url=gw.url, api_key="sy-local", max_retries=0, timeout=30)


def gpt(gw):
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sy-local", max_retries=0, timeout=30)


ALL = ["oai/mock-small", "ant/claude-mock", "rsp/codex-mock"]
WEATHER_RSP = {"type": "function", "name": "get_weather", "description": "Current weather",
               "parameters": WEATHER["input_schema"]}


@pytest.mark.parametrize("upstream", ALL)
@pytest.mark.parametrize("stream", [False, True])
def test_openai_responses_api(gw, mock, upstream, stream):
    c = gpt(gw)
    if stream:
        kinds = []
        with c.responses.stream(model=upstream, input="Hello Codex", instructions="Be brief.") as s:
            for ev in s:
                kinds.append(ev.type)
            r = s.get_final_response()
        assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
        assert "response.output_text.delta" in kinds
    else:
        r = c.responses.create(model=upstream, input="Hello Codex", instructions="Be brief.")
    assert r.status == "completed"
    assert r.output_text == "Hello from mock-upstream! You said: Hello Codex"
    assert r.usage.output_tokens > 0
    seen = mock.requests()[-1]
    if upstream.startswith("oai/"):
        assert seen["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    elif upstream.startswith("ant/"):
        assert seen["body"]["system"] == "Be brief."
    else:
        assert seen["body"]["instructions"] == "Be brief." and seen["body"]["model"] == "codex-mock"


@pytest.mark.parametrize("upstream", ALL)
def test_openai_responses_tool_round_trip(gw, upstream):
    c = gpt(gw)
    items = [{"role": "user", "content": "Weather in Paris?"}]
    with c.responses.stream(model=upstream, input=items, tools=[WEATHER_RSP]) as s:
        first = s.get_final_response()
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1 and calls[0].name == "get_weather"
    assert calls[0].arguments == '{"city":"Paris"}'
    items += [{"type": "function_call", "call_id": calls[0].call_id, "name": "get_weather", "arguments": calls[0].arguments},
              {"type": "function_call_output", "call_id": calls[0].call_id, "output": "Foggy"}]
    second = c.responses.create(model=upstream, input=items, tools=[WEATHER_RSP])
    assert second.output_text == "Tool said: Foggy"


@pytest.mark.parametrize("stream", [False, True])
def test_chat_and_messages_clients_reach_a_responses_upstream(gw, mock, stream):
    r = gpt(gw).chat.completions.create(model="rsp/codex-mock", messages=[{"role": "user", "content": "via chat"}])
    assert r.choices[0].message.content == "Hello from mock-upstream! You said: via chat"
    assert mock.requests()[-1]["body"]["store"] is False
    if stream:
        with claude(gw).messages.stream(model="rsp/codex-mock", max_tokens=64, tools=[WEATHER],
                                        messages=[{"role": "user", "content": "tool?"}]) as s:
            m = s.get_final_message()
    else:
        m = claude(gw).messages.create(model="rsp/codex-mock", max_tokens=64, tools=[WEATHER],
                                       messages=[{"role": "user", "content": "tool?"}])
    assert m.stop_reason == "tool_use"
    assert [b.input for b in m.content if b.type == "tool_use"] == [{"city": "Paris"}]


@pytest.mark.parametrize("upstream", ["oai/mock-small", "ant/claude-mock"])
def test_anthropic_sdk_messages(gw, mock, upstream):
    r = claude(gw).messages.create(model=upstream, max_tokens=256, system="Be brief.",
                                   messages=[{"role": "user", "content": "Hello Claude"}])
    assert r.content[0].type == "text"
    assert r.content[0].text == "Hello from mock-upstream! You said: Hello Claude"
    assert r.stop_reason == "end_turn"
    seen = mock.requests()[-1]
    if upstream.startswith("oai/"):
        assert seen["path"] == "/v1/chat/completions"
        assert seen["headers"]["authorization"] == f"Bearer {KEY}"
        assert seen["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
        assert seen["body"]["max_tokens"] == 256
    else:
        assert seen["path"] == "/v1/messages"
        assert seen["headers"]["x-api-key"] == KEY
        assert "anthropic-version" in seen["headers"]
        assert seen["body"]["system"] == "Be brief." and seen["body"]["model"] == "claude-mock"


@pytest.mark.parametrize("upstream", ALL)
def test_anthropic_sdk_stream(gw, upstream):
    with claude(gw).messages.stream(model=upstream, max_tokens=256,
                                    messages=[{"role": "user", "content": "stream me"}]) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Hello from mock-upstream! You said: stream me"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


@pytest.mark.parametrize("upstream", ["oai/mock-small", "ant/claude-mock"])
@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_sdk_tool_round_trip(gw, upstream, stream):
    c = claude(gw)
    msgs = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        with c.messages.stream(model=upstream, max_tokens=256, tools=[WEATHER], messages=msgs) as s:
            first = s.get_final_message()
    else:
        first = c.messages.create(model=upstream, max_tokens=256, tools=[WEATHER], messages=msgs)
    assert first.stop_reason == "tool_use"
    calls = [b for b in first.content if b.type == "tool_use"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].input == {"city": "Paris"}
    msgs += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": calls[0].id, "content": "Sunny, 21C"}]}]
    second = c.messages.create(model=upstream, max_tokens=256, tools=[WEATHER], messages=msgs)
    assert second.content[0].text == "Tool said: Sunny, 21C"


def test_anthropic_thinking_passthrough_keeps_signatures(gw, mock):
    r = claude(gw).messages.create(model="ant/claude-mock", max_tokens=4096,
                                   thinking={"type": "enabled", "budget_tokens": 1024},
                                   messages=[{"role": "user", "content": "think"}])
    assert r.content[0].type == "thinking"
    assert r.content[0].thinking == "Let me think." and r.content[0].signature == "sig-mock-1"
    assert mock.requests()[-1]["body"]["thinking"] == {"type": "enabled", "budget_tokens": 1024}


def test_anthropic_thinking_translated_from_reasoning(gw, mock):
    with claude(gw).messages.stream(model="oai/mock-small", max_tokens=20000,
                                    thinking={"type": "enabled", "budget_tokens": 16000},
                                    messages=[{"role": "user", "content": "think"}]) as s:
        final = s.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Let me think."
    assert mock.requests()[-1]["body"]["reasoning_effort"] == "high"


@pytest.mark.parametrize("stream", [False, True])
def test_openai_sdk_against_anthropic_upstream(gw, mock, stream):
    c = gpt(gw)
    if stream:
        chunks = list(c.chat.completions.create(model="ant/claude-mock", stream=True,
                                                stream_options={"include_usage": True},
                                                messages=[{"role": "user", "content": "hey"}]))
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        usage = chunks[-1].usage
        finish = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
        assert finish == ["stop"]
    else:
        r = c.chat.completions.create(model="ant/claude-mock", messages=[{"role": "user", "content": "hey"}])
        text, usage = r.choices[0].message.content, r.usage
    assert text == "Hello from mock-upstream! You said: hey"
    # message_start input 12 + message_delta cache_read 100, output 20 (docs/formats.md §9).
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (112, 20, 132)
    assert usage.prompt_tokens_details.cached_tokens == 100
    body = mock.requests()[-1]["body"]
    assert body["max_tokens"] == 64000, "Messages requires max_tokens; the gateway sets it"


@pytest.mark.parametrize("stream", [False, True])
def test_openai_sdk_tool_round_trip_with_anthropic_upstream(gw, stream):
    c = gpt(gw)
    msgs = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        args, call_id, name = "", None, None
        for ch in c.chat.completions.create(model="ant/claude-mock", stream=True, tools=[WEATHER_OAI], messages=msgs):
            for tc in (ch.choices[0].delta.tool_calls or []) if ch.choices else []:
                call_id = tc.id or call_id
                name = (tc.function.name if tc.function else None) or name
                args += (tc.function.arguments or "") if tc.function else ""
    else:
        r = c.chat.completions.create(model="ant/claude-mock", tools=[WEATHER_OAI], messages=msgs)
        assert r.choices[0].finish_reason == "tool_calls"
        tc = r.choices[0].message.tool_calls[0]
        call_id, name, args = tc.id, tc.function.name, tc.function.arguments
    assert name == "get_weather" and args == '{"city":"Paris"}'
    msgs += [{"role": "assistant", "content": None, "tool_calls": [
                 {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}]},
             {"role": "tool", "tool_call_id": call_id, "content": "Rainy"}]
    r = c.chat.completions.create(model="ant/claude-mock", tools=[WEATHER_OAI], messages=msgs)
    assert r.choices[0].message.content == "Tool said: Rainy"


def test_errors_are_in_the_clients_format(gw):
    c = claude(gw)
    with pytest.raises(anthropic.NotFoundError) as e:
        c.messages.create(model="nope/x", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "not_found_error"
    assert "oai/mock-small" in e.value.body["error"]["message"]
    with pytest.raises(anthropic.RateLimitError) as e:
        c.messages.create(model="oai/error-429", max_tokens=10, messages=[{"role": "user", "content": "x"}])
    assert "mock upstream failure 429" in e.value.body["error"]["message"]
    assert e.value.response.headers["retry-after"] == "7", "the upstream's Retry-After reaches the client"
    with pytest.raises(openai.RateLimitError) as e:
        gpt(gw).chat.completions.create(model="ant/error-429", messages=[{"role": "user", "content": "x"}])
    assert "mock upstream failure 429" in e.value.message
    with pytest.raises(anthropic.BadRequestError) as e:
        c.messages.create(model="oai/mock-small", max_tokens=10, messages=[{"role": "robot", "content": "x"}])
    assert "robot" in e.value.body["error"]["message"]


def test_cut_stream_ends_with_an_error_event_for_claude_clients(gw):
    with pytest.raises(anthropic.APIStatusError) as e:
        with claude(gw).messages.stream(model="oai/cut-stream", max_tokens=64,
                                        messages=[{"role": "user", "content": "x"}]) as s:
            for _ in s.text_stream:
                pass
    assert "ended before it was complete" in str(e.value) or "broke" in str(e.value)


@pytest.fixture(scope="module")
def drip():
    """A 300 ms-per-chunk upstream of every format behind one gateway."""
    m = Mock(drip_ms=300, chunks=5, require_key=KEY)
    g = Gateway(tempfile.mkdtemp())
    g.add_provider("oai", m.base_url, KEY, ["mock-small"])
    g.add_provider("ant", m.base_url, KEY, ["claude-mock"], format="anthropic")
    g.add_provider("rsp", m.base_url, KEY, ["codex-mock"], format="responses")
    g.add_provider("gem", f"{m.url}/v1beta", KEY, ["gemini-mock"], format="gemini")
    g.add_provider("kro", m.url, KEY, ["kiro-mock"], format="kiro")
    yield g, m
    g.stop()
    m.proc.stop()


def _pieces_with_first_time(texts):
    first_ms, pieces = None, []
    for t in texts:
        first_ms = first_ms or time.time() * 1000
        pieces.append(t)
    return first_ms, "".join(pieces)


# docs/formats.md #35: a 300 ms drip upstream is a 300 ms drip at the client, in every direction:
# translated (Claude client to each other format, OpenAI client to Messages and Kiro) and
# passthrough (where only the usage tap reads the stream).
@pytest.mark.parametrize("client,upstream", [
    ("anthropic", "oai/mock-small"), ("anthropic", "rsp/codex-mock"), ("anthropic", "gem/gemini-mock"),
    ("anthropic", "kro/kiro-mock"), ("anthropic", "ant/claude-mock"),
    ("openai", "ant/claude-mock"), ("openai", "kro/kiro-mock"), ("openai", "oai/mock-small"),
])
def test_streams_are_not_buffered_in_any_direction(drip, client, upstream):
    g, m = drip
    call("POST", m.url + "/_mock/reset")
    said = "Hello from mock-upstream! You said: drip"
    if client == "anthropic":
        with claude(g).messages.stream(model=upstream, max_tokens=64,
                                       messages=[{"role": "user", "content": "drip"}]) as s:
            first_ms, text = _pieces_with_first_time(s.text_stream)
    else:
        chunks = gpt(g).chat.completions.create(model=upstream, stream=True,
                                                messages=[{"role": "user", "content": "drip"}])
        first_ms, text = _pieces_with_first_time(
            c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content)
    assert text == said
    sent = m.requests()[-1]["sent_chunks_at_ms"]
    assert len(sent) >= 5
    assert first_ms < sent[-1] - 500, f"first text at {first_ms:.0f}, upstream's last chunk at {sent[-1]}"


def test_forced_server_tool_is_refused_for_other_formats(gw):
    """docs/formats.md #15: a server tool is never turned into a function; forcing one where it cannot
    run is the client's 400 `unsupported_feature`, said before any upstream is called."""
    search = {"type": "web_search_20250305", "name": "web_search"}
    with pytest.raises(anthropic.BadRequestError) as e:
        claude(gw).messages.create(model="oai/mock-small", max_tokens=64, tools=[search, WEATHER],
                                   tool_choice={"type": "tool", "name": "web_search"},
                                   messages=[{"role": "user", "content": "news?"}])
    assert "web_search" in e.value.body["error"]["message"]
    assert e.value.response.json()["error"]["type"] == "invalid_request_error"
    # Not forced: the server tool is dropped and the client's function still reaches the target.
    r = claude(gw).messages.create(model="oai/mock-small", max_tokens=64, tools=[search, WEATHER],
                                   messages=[{"role": "user", "content": "weather?"}])
    assert r.stop_reason == "tool_use" and r.content[-1].name == "get_weather"
