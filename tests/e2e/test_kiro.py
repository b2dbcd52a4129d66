"""Kiro upstream (AWS event-stream answers) through the gateway with the official SDKs.

The mock's `/generateAssistantResponse` refuses what the real service refuses ("Improperly
formed request." for a system field, a `[1m]` model, history that does not alternate, tools
outside the current message), so every successful call here also checks the encoder's shape.
Kiro reports no token counts, so usage is not asserted. docs/formats.md #14: a tool call must reach
the client as `tool_calls` / `tool_use`.
"""

import anthropic
import openai
import pytest
from google import genai
from google.genai import types

from conftest import http as call

KEY = "kiro-access-token-e2e"
HELLO = "Hello from mock-upstream! You said: "
WEATHER = {"name": "get_weather", "description": "Current weather",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}
WEATHER_OAI = {"type": "function", "function": {"name": "get_weather", "description": "Current weather",
                                                "parameters": WEATHER["input_schema"]}}
FAST = {"retry_delay_ms": 0, "first_byte_timeout_ms": 1500, "readiness_timeout_ms": 3000}


@pytest.fixture
def gw(gateway, mock):
    # The mock requires Bearer sk-e2e-upstream-key for every format.
    gateway.add_provider("kro", mock.url, "sk-e2e-upstream-key", ["kiro-mock"], format="kiro")
    gateway.add_provider("oai", mock.base_url, "sk-e2e-upstream-key", ["mock-small"], format="openai")
    return gateway


def gpt(gw):
    return openai.OpenAI(base_url=f"{gw.url}/v1", api_key="sy-local", max_retries=0, timeout=30)


def claude(gw):
    return anthropic.Anthropic(base_url=gw.url, api_key="sy-local", max_retries=0, timeout=30)


def kiro_requests(mock):
    return [r for r in mock.requests() if r["path"] == "/generateAssistantResponse"]


@pytest.mark.parametrize("stream", [False, True])
def test_openai_chat_reaches_kiro(gw, mock, stream):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi kiro"}]
    if stream:
        chunks = list(gpt(gw).chat.completions.create(model="kro/kiro-mock", stream=True, messages=msgs))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        assert finish == ["stop"]
        assert len(chunks) >= 4, "text arrives in pieces"
    else:
        r = gpt(gw).chat.completions.create(model="kro/kiro-mock", messages=msgs)
        text = r.choices[0].message.content
        assert r.choices[0].finish_reason == "stop"
    # The system prompt opens the first user turn: Kiro has no system field.
    assert text == HELLO + "Be brief.\n\nhi kiro"
    seen = kiro_requests(mock)[-1]
    assert seen["headers"]["authorization"] == "Bearer sk-e2e-upstream-key"
    assert seen["headers"]["accept"] == "application/vnd.amazon.eventstream"
    assert seen["headers"]["x-amz-target"] == "AmazonCodeWhispererStreamingService.GenerateAssistantResponse"
    current = seen["body"]["conversationState"]["currentMessage"]["userInputMessage"]
    assert current["modelId"] == "kiro-mock" and current["origin"] == "AI_EDITOR"


@pytest.mark.parametrize("stream", [False, True])
def test_openai_tool_round_trip_finishes_as_tool_calls(gw, mock, stream):
    c = gpt(gw)
    msgs = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        args, call_id, name, finish = "", None, None, []
        for ch in c.chat.completions.create(model="kro/kiro-mock", stream=True, tools=[WEATHER_OAI], messages=msgs):
            if not ch.choices:
                continue
            for tc in ch.choices[0].delta.tool_calls or []:
                call_id = tc.id or call_id
                name = (tc.function.name if tc.function else None) or name
                args += (tc.function.arguments or "") if tc.function else ""
            if ch.choices[0].finish_reason:
                finish.append(ch.choices[0].finish_reason)
        assert finish == ["tool_calls"], "docs/formats.md #14"
    else:
        r = c.chat.completions.create(model="kro/kiro-mock", tools=[WEATHER_OAI], messages=msgs)
        assert r.choices[0].finish_reason == "tool_calls", "docs/formats.md #14"
        tc = r.choices[0].message.tool_calls[0]
        call_id, name, args = tc.id, tc.function.name, tc.function.arguments
    assert name == "get_weather" and args == '{"city":"Paris"}'
    spec = kiro_requests(mock)[-1]["body"]["conversationState"]["currentMessage"]["userInputMessage"][
        "userInputMessageContext"]["tools"][0]["toolSpecification"]
    assert spec["name"] == "get_weather" and spec["inputSchema"]["json"]["required"] == ["city"]
    msgs += [{"role": "assistant", "content": None, "tool_calls": [
                 {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}]},
             {"role": "tool", "tool_call_id": call_id, "content": "Rainy"}]
    r = c.chat.completions.create(model="kro/kiro-mock", tools=[WEATHER_OAI], messages=msgs)
    assert r.choices[0].message.content == "Tool said: Rainy"
    state = kiro_requests(mock)[-1]["body"]["conversationState"]
    assert [list(t) for t in state["history"]] == [["userInputMessage"], ["assistantResponseMessage"]]
    assert state["history"][1]["assistantResponseMessage"]["toolUses"][0]["input"] == {"city": "Paris"}


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_tool_round_trip(gw, stream):
    c = claude(gw)
    msgs = [{"role": "user", "content": "Weather in Paris?"}]
    if stream:
        with c.messages.stream(model="kro/kiro-mock", max_tokens=256, tools=[WEATHER], messages=msgs) as s:
            first = s.get_final_message()
    else:
        first = c.messages.create(model="kro/kiro-mock", max_tokens=256, tools=[WEATHER], messages=msgs)
    assert first.stop_reason == "tool_use", "docs/formats.md #14"
    calls = [b for b in first.content if b.type == "tool_use"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].input == {"city": "Paris"}
    msgs += [{"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
             {"role": "user", "content": [{"type": "tool_result", "tool_use_id": calls[0].id, "content": "Sunny"}]}]
    with c.messages.stream(model="kro/kiro-mock", max_tokens=256, tools=[WEATHER], messages=msgs) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == "Tool said: Sunny" and final.stop_reason == "end_turn"


def test_gemini_sdk_and_responses_api_reach_kiro(gw):
    g = genai.Client(api_key="sy-local", http_options=types.HttpOptions(base_url=gw.url, api_version="v1beta", timeout=30_000))
    chunks = list(g.models.generate_content_stream(model="kro/kiro-mock", contents="gemini here"))
    assert "".join(ch.text or "" for ch in chunks) == HELLO + "gemini here"
    assert chunks[-1].candidates[0].finish_reason == types.FinishReason.STOP
    with gpt(gw).responses.stream(model="kro/kiro-mock", input="codex here") as s:
        r = s.get_final_response()
    assert r.status == "completed" and r.output_text == HELLO + "codex here"


def test_one_m_suffix_is_refused_for_kiro_and_skips_it_in_a_combo(gw, mock):
    with pytest.raises(openai.BadRequestError) as e:
        gpt(gw).chat.completions.create(model="kro/kiro-mock[1m]", messages=[{"role": "user", "content": "x"}])
    assert e.value.code == "unsupported_feature" and "[1m]" in e.value.message
    assert kiro_requests(mock) == [], "nothing was sent to Kiro"
    status, body = gw.api("POST", "/api/combos", {"name": "big", "strategy": "priority", "config": FAST,
                                                  "targets": ["kro/kiro-mock", "oai/mock-small"]})
    assert status == 201, body
    r = gpt(gw).chat.completions.with_raw_response.create(model="big[1m]", messages=[{"role": "user", "content": "x"}])
    assert r.parse().choices[0].message.content == HELLO + "x"
    assert kiro_requests(mock) == []


def test_throttling_exception_frame_fails_over_and_a_cut_frame_is_not_an_answer(gw, mock):
    status, body = gw.api("POST", "/api/combos", {"name": "k", "strategy": "priority", "config": FAST,
                                                  "targets": ["kro/exception-throttle", "oai/mock-small"]})
    assert status == 201, body
    r = gpt(gw).chat.completions.create(model="k", messages=[{"role": "user", "content": "x"}])
    assert r.choices[0].message.content == HELLO + "x", "the 429-like exception moved on to the next target"
    status, health = gw.api("GET", "/api/routing/health", admin=False)
    row = next(a for a in health["accounts"] if a["provider"] == "kro")
    assert row.get("cooldown_until") is not None, row
    # A body that ends inside a frame is a cut stream: an error event, never a clean finish.
    with pytest.raises(anthropic.APIStatusError) as e:
        with claude(gw).messages.stream(model="kro/cut-frame", max_tokens=64,
                                        messages=[{"role": "user", "content": "x"}]) as s:
            for _ in s.text_stream:
                pass
    assert "ended before it was complete" in str(e.value)


def test_kiro_is_in_the_catalog_and_rejects_bad_keys_in_its_own_words(gw, mock):
    status, cat = call("GET", f"{gw.url}/api/catalog")
    assert status == 200
    entry = next(p for p in cat if p["id"] == "kiro")
    assert entry["format"] == "kiro" and entry["alias"] == "kr"
    gw.add_provider("kbad", mock.url, "wrong-token", ["kiro-mock"], format="kiro")
    with pytest.raises(openai.PermissionDeniedError) as e:
        gpt(gw).chat.completions.create(model="kbad/kiro-mock", messages=[{"role": "user", "content": "x"}])
    assert "bearer token included in the request is invalid" in e.value.message
