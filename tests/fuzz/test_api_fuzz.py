"""Property-based fuzzing of the HTTP API from its own OpenAPI document (schemathesis): every
operation of /api/v1 and Open311, with data that fits the document and data that does not, each
case sent as nobody, as a source (API key) and as a duty officer (session). No answer may be a
5xx, and every answer must match the document: a status it lists, with the content type, headers
and body schema it gives; data the document rules out must be refused.

Deterministic (the same cases every run) and bounded to run in CI in well under 3 minutes on 2
cores: `pytest -m fuzz` prints the figures recorded in docs/BENCHMARKS.md ("Fuzzing")."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.fuzz
# cases per operation, each sent three times (nobody, source, duty officer); more for a deeper run
EXAMPLES = int(os.environ.get("BIGSCREEN_FUZZ_EXAMPLES", "60"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection]


def test_the_api_holds(capsys, fuzz_app, credentials, real_values):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", fuzz_app)
    rejection = schema.config.checks.negative_data_rejection  # a batch over the limit is 413: also a refusal
    schema.config.checks.negative_data_rejection = type(rejection)(expected_statuses=[*rejection.expected_statuses, 413])
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/api/v1/events", "/open311/v2/requests.json"}
    tally = {"requests": 0, "server_errors": 0}
    failures: list[str] = []
    start = time.perf_counter()
    for operation in operations:
        failures += _fuzz(operation, credentials, real_values, tally)
    seconds = time.perf_counter() - start
    with capsys.disabled():
        print(f"\nfuzzing: {len(operations)} operations, {tally['requests']} requests, "
              f"{tally['server_errors']} answered 5xx, {seconds:.0f} s")
    assert not failures, "\n\n".join(failures)


def _realistic(case, real: dict[str, list], rnd) -> None:
    """Points a case that fits the document at real things: ids of stored cases, real codes, places
    inside the city, recent times. The document cannot list every grid or sub-item of a city;
    without this most cases would stop at the first lookup."""
    for name in list(case.path_parameters or {}):
        if name in real:
            case.path_parameters[name] = rnd.choice(real[name])
    for name in list(case.query or {}):
        if name in real and isinstance(case.query[name], str):
            case.query[name] = rnd.choice(real[name])
    for body in case.body if isinstance(case.body, list) else [case.body]:
        if isinstance(body, dict):
            _real_fields(body, real, rnd, whistle="whistles" in case.path)


def _real_fields(body: dict, real: dict[str, list], rnd, whistle: bool) -> None:
    for name in list(body):
        if name == "kind" and whistle:
            body[name] = rnd.choice(real["whistle_kind"])
        elif name in real:
            body[name] = rnd.choice(real[name])
        elif name in ("at", "reported_at"):
            body[name] = (datetime.now(UTC) - timedelta(minutes=rnd.randint(0, 600))).isoformat()
    if "item" in body or "service_code" in body:  # an event: somewhere in the city
        grid, lat, lon = rnd.choice(real["point"])
        for name in ("grid", "lat", "lon", "long"):
            body.pop(name, None)
        if "service_code" in body or rnd.random() < 0.5:
            body.update({"lat": lat, "long" if "service_code" in body else "lon": lon})
        else:
            body["grid"] = grid


def _fuzz(operation, credentials: dict[str, dict], real: dict[str, list], tally: dict[str, int]) -> list[str]:
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    @given(case=cases, rnd=st.randoms(use_true_random=False))
    def run(case, rnd):
        if case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
            _realistic(case, real, rnd)
        for who, headers in credentials.items():
            response = case.call(headers=headers)
            tally["requests"] += 1
            tally["server_errors"] += response.status_code >= 500
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except Exception as exc:
                exc.add_note(f"calling {operation.label} as: {who}")
                raise

    try:
        run()
    except (Exception, BaseExceptionGroup) as exc:  # every operation is fuzzed; the failures are reported together
        notes = "\n".join(getattr(exc, "__notes__", []))
        return [f"{operation.label}: {exc}\n{notes}"]
    return []
