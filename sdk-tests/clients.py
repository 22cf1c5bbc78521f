"""The official `openai` and `anthropic` SDKs as clients of a running switchyard gateway.

Run by gateway/tests/sdk.rs, which starts the gateway in front of OpenAI- and Anthropic-shaped
mock upstreams and passes its URL. Models (tiers) the gateway serves:

- `mixed`: an OpenAI-shaped and an Anthropic-shaped deployment, both healthy;
- `openai-down`: an OpenAI deployment answering 503 (weight 100) and a healthy Anthropic one;
- `anthropic-429`, `anthropic-529`: an Anthropic deployment answering 429 / 529 (weight 100)
  and a healthy OpenAI one;
- `broken`: two deployments that both answer 500.

Each check prints `ok NAME` or `FAIL NAME: why`; the last line is `N passed, M failed`.
Usage: python clients.py GATEWAY_URL GATEWAY_KEY
"""

import sys
import traceback

import anthropic
import openai

BASE, KEY = sys.argv[1], sys.argv[2]
oa = openai.OpenAI(base_url=f"{BASE}/v1", api_key=KEY, max_retries=0, timeout=20)
an = anthropic.Anthropic(base_url=BASE, api_key=KEY, max_retries=0, timeout=20)
WEATHER_OA = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}
WEATHER_AN = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
}
HELLO = [{"role": "user", "content": "hello there"}]
results = []


def check(name):
    def wrap(fn):
        try:
            fn()
            results.append(True)
            print(f"ok   {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - every failure is reported, none stops the run
            results.append(False)
            print(f"FAIL {name}: {e!r}", flush=True)
            traceback.print_exc()
        return fn

    return wrap


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


# --- OpenAI SDK: chat completions -------------------------------------------------------------
for model in ["mixed", "openai-down", "anthropic-429", "anthropic-529"]:

    @check(f"openai chat plain via {model}")
    def _(model=model):
        r = oa.chat.completions.create(model=model, messages=HELLO, max_tokens=32)
        expect(r.choices[0].message.content == "Hello from the mock.", r)
        expect(r.choices[0].finish_reason == "stop", r)
        expect(r.usage.prompt_tokens == 9 and r.usage.completion_tokens == 7, r.usage)

    @check(f"openai chat streamed via {model}")
    def _(model=model):
        stream = oa.chat.completions.create(
            model=model, messages=HELLO, stream=True, stream_options={"include_usage": True}
        )
        text = "".join(
            c.choices[0].delta.content or "" for c in stream if c.choices and c.choices[0].delta
        )
        expect(text == "token0 token1 token2 token3 token4 ", text)


@check("openai chat tool-call round trip (anthropic deployment)")
def _():
    msgs = list(HELLO)
    r = oa.chat.completions.create(model="anthropic-only", messages=msgs, tools=[WEATHER_OA])
    call = r.choices[0].message.tool_calls[0]
    expect(call.function.name == "get_weather", call)
    expect('"Paris"' in call.function.arguments, call)
    expect(r.choices[0].finish_reason == "tool_calls", r)
    msgs.append(r.choices[0].message.model_dump(exclude_none=True))
    msgs.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 C"})
    r = oa.chat.completions.create(model="anthropic-only", messages=msgs, tools=[WEATHER_OA])
    expect(r.choices[0].message.content == "Hello from the mock.", r)


@check("openai models.list")
def _():
    ids = {m.id for m in oa.models.list()}
    expect({"mixed", "broken"} <= ids, ids)


@check("openai errors: wrong key, unknown model, all failing")
def _():
    bad = openai.OpenAI(base_url=f"{BASE}/v1", api_key="wrong", max_retries=0)
    try:
        bad.chat.completions.create(model="mixed", messages=HELLO)
        raise AssertionError("a wrong key was accepted")
    except openai.AuthenticationError:
        pass
    try:
        oa.chat.completions.create(model="no-such-model", messages=HELLO)
        raise AssertionError("an unknown model was served")
    except openai.NotFoundError:
        pass
    try:
        oa.chat.completions.create(model="broken", messages=HELLO)
        raise AssertionError("a failing tier answered")
    except openai.APIStatusError as e:
        expect(e.status_code == 502, e)


# --- OpenAI SDK: Responses --------------------------------------------------------------------
@check("openai responses plain and streamed")
def _():
    r = oa.responses.create(model="mixed", input="hello there", instructions="Be brief.")
    expect(r.output_text == "Hello from the mock.", r)
    events = list(oa.responses.create(model="mixed", input="hello there", stream=True))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    expect(text == "token0 token1 token2 token3 token4 ", text)
    expect(events[-1].type == "response.completed", events[-1])


# --- Anthropic SDK: messages ------------------------------------------------------------------
for model in ["mixed", "openai-down", "anthropic-429", "anthropic-529"]:

    @check(f"anthropic messages plain via {model}")
    def _(model=model):
        r = an.messages.create(model=model, max_tokens=32, messages=HELLO, system="Be brief.")
        expect(r.content[0].text == "Hello from the mock.", r)
        expect(r.stop_reason == "end_turn", r)
        expect(r.usage.output_tokens == 7, r.usage)

    @check(f"anthropic messages streamed via {model}")
    def _(model=model):
        with an.messages.stream(model=model, max_tokens=32, messages=HELLO) as s:
            text = "".join(s.text_stream)
            final = s.get_final_message()
        expect(text == "token0 token1 token2 token3 token4 ", text)
        expect(final.stop_reason == "end_turn", final)


@check("anthropic tool-use round trip (openai deployment)")
def _():
    msgs = list(HELLO)
    r = an.messages.create(model="openai-only", max_tokens=64, messages=msgs, tools=[WEATHER_AN])
    use = next(b for b in r.content if b.type == "tool_use")
    expect(use.name == "get_weather" and use.input == {"location": "Paris"}, use)
    expect(r.stop_reason == "tool_use", r)
    msgs.append({"role": "assistant", "content": [b.model_dump() for b in r.content]})
    msgs.append(
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "sunny"}]}
    )
    r = an.messages.create(model="openai-only", max_tokens=64, messages=msgs, tools=[WEATHER_AN])
    expect(r.content[0].text == "Hello from the mock.", r)


@check("anthropic errors: wrong key, unknown model, all failing")
def _():
    bad = anthropic.Anthropic(base_url=BASE, api_key="wrong", max_retries=0)
    try:
        bad.messages.create(model="mixed", max_tokens=8, messages=HELLO)
        raise AssertionError("a wrong key was accepted")
    except anthropic.AuthenticationError:
        pass
    try:
        an.messages.create(model="no-such-model", max_tokens=8, messages=HELLO)
        raise AssertionError("an unknown model was served")
    except anthropic.NotFoundError:
        pass
    try:
        an.messages.create(model="broken", max_tokens=8, messages=HELLO)
        raise AssertionError("a failing tier answered")
    except anthropic.APIStatusError as e:
        expect(e.status_code == 502, e)


passed, failed = results.count(True), results.count(False)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
