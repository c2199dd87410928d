"""Loading autonomy.yaml: what is accepted, and every refusal naming file, field path and fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autonomy.errors import ZoneSpecError
from autonomy.zones import SecretRef, ZoneSpec, load_zone


def write(directory: Path, text: str, name: str = "autonomy.yaml") -> Path:
    (directory / name).write_text(textwrap.dedent(text))
    return directory


def refusal(directory: Path) -> ZoneSpecError:
    with pytest.raises(ZoneSpecError) as info:
        load_zone(directory)
    return info.value


def test_upstream_example_loads_with_defaults(tmp_path: Path) -> None:
    write(tmp_path, """
        name: example010
        pods:
          - name: main-pod
            public: true
            containers:
              - name: main
                image: main
                env:
                  - LOG_LEVEL: "INFO"
                  - API_KEY: secrets.MY_KEY
              - name: brave
                image: ghcr.io/build-trust/mcp-proxy
                env:
                  - BRAVE_API_KEY: secrets.BRAVE_API_KEY
                args: ["--sse-port", 8001, "--pass-environment", "--", "npx", "-y", "server-brave"]
          - name: runner-pod
            size: big
            clones: 5
            containers:
              - name: runner
                image: runner
    """)
    zone = load_zone(tmp_path)
    main, runner = zone.pods
    assert zone.name == "example010"
    assert (main.public, main.size, main.clones) == (True, "regular", 1)
    assert (runner.public, runner.size, runner.clones) == (False, "big", 5)
    assert main.containers[0].env == {"LOG_LEVEL": "INFO", "API_KEY": SecretRef(name="MY_KEY")}
    assert main.containers[1].args[:2] == ["--sse-port", "8001"]
    assert not main.containers[1].is_local_image and main.containers[0].is_local_image
    assert zone.secret_names == ["BRAVE_API_KEY", "MY_KEY"]
    assert runner.node_names("c" * 32, zone.name)[4] == f"{'c' * 32}-example010-runner-pod-4"
    assert main.node_names("c" * 32, zone.name) == [f"{'c' * 32}-example010-main-pod"]


def test_spec_round_trips_through_model_dump(tmp_path: Path) -> None:
    write(tmp_path, """
        zone_name: app
        pods:
          - name: solo
            containers:
              - {name: main, image: main, env: {A: 1, B: true, K: secrets.K}}
    """)
    zone = load_zone(tmp_path)
    assert zone.name == "app"
    assert zone.pods[0].containers[0].env == {"A": "1", "B": "true", "K": SecretRef(name="K")}
    assert ZoneSpec.model_validate(zone.model_dump()) == zone
    assert ZoneSpec.model_validate_json(zone.model_dump_json()) == zone


def test_json_file_is_accepted(tmp_path: Path) -> None:
    write(tmp_path, '{"name": "j", "pods": [{"name": "p", "containers": [{"name": "c", "image": "main"}]}]}')
    assert load_zone(tmp_path).pods[0].containers[0].image == "main"


def test_portals_and_unknown_keys_are_kept_with_a_note(tmp_path: Path) -> None:
    write(tmp_path, """
        name: app
        pods:
          - name: main-pod
            clone: 3
            portals: {outlets: [{to: "localhost:7000"}]}
            containers: [{name: main, image: main, imagePullPolicy: Always}]
    """)
    zone = load_zone(tmp_path)
    pod = zone.pods[0]
    assert pod.extra["clone"] == 3 and "portals" in pod.extra
    assert pod.containers[0].extra == {"imagePullPolicy": "Always"}
    assert any("pods[0].clone" in n and "'clones'" in n for n in zone.notes)
    assert any("pods[0].portals: ignored" in n for n in zone.notes)


# (file text, field path, words of the message): shared with the CLI's subprocess tests.
REFUSALS = [
    ("name: My_App\npods: [{name: p, containers: [{name: c, image: i}]}]", "name", "a-z and 0-9"),
    ("name: waytoolongname\npods: [{name: p, containers: [{name: c, image: i}]}]", "name", "1 to 10"),
    ("pods: [{name: p, containers: [{name: c, image: i}]}]", "name", "is missing"),
    ("name: a\npods: []", "pods", "non-empty"),
    ("name: a", "pods", "is missing"),
    ("name: a\npods: [{name: Main_Pod, containers: [{name: c, image: i}]}]", "pods[0].name", "a-z, 0-9"),
    ("name: a\npods: [{name: p, clones: many, containers: [{name: c, image: i}]}]", "pods[0].clones",
     "'many' is not a whole number >= 1"),
    ("name: a\npods: [{name: p, clones: 0, containers: [{name: c, image: i}]}]", "pods[0].clones", ">= 1"),
    ("name: a\npods: [{name: p, size: huge, containers: [{name: c, image: i}]}]", "pods[0].size",
     "'regular' or 'big'"),
    ("name: a\npods: [{name: p, public: 'yes', containers: [{name: c, image: i}]}]", "pods[0].public",
     "true or false"),
    ("name: a\npods: [{name: p}]", "pods[0].containers", "is missing"),
    ("name: a\npods: [{name: p, containers: [{name: c}]}]", "pods[0].containers[0].image", "is missing"),
    ("name: a\npods: [{name: p, containers: [{name: c, image: i}, {name: c, image: j}]}]",
     "pods[0].containers[1].name", "unique in a pod"),
    ("name: a\npods: [{name: main-pod, containers: [{name: c, image: i}]}, "
     "{name: main-pod, containers: [{name: c, image: i}]}]", "pods[1].name", "unique"),
    ("name: a\npods: [{name: one, containers: [{name: c, image: i}]}, "
     "{name: two, containers: [{name: c, image: i}]}]", "pods", "'main-pod'"),
    ("name: a\npods: [{name: p, containers: [{name: c, image: i, env: [{A: 1, B: 2}]}]}]",
     "pods[0].containers[0].env[0]", "one-key map"),
    ("name: a\npods: [{name: p, containers: [{name: c, image: i, env: {A: null}}]}]",
     "pods[0].containers[0].env.A", "is empty"),
    ("name: a\npods: [{name: p, containers: [{name: c, image: i, env: {A-B: x}}]}]",
     "pods[0].containers[0].env.A-B", "not a variable name"),
    ("name: a\npods: [{name: p, containers: [{name: c, image: i, args: '--port 1'}]}]",
     "pods[0].containers[0].args", "list of strings"),
    ("name: a\npods: [{name: p, containers: [{name: c, image: i, args: [{x: 1}]}]}]",
     "pods[0].containers[0].args[0]", "string or a number"),
    ("name: a\nzone_name: b\npods: [{name: p, containers: [{name: c, image: i}]}]", "zone_name",
     "keep only one"),
    ("- just\n- a list", "", "must be a mapping"),
    ("", "", "is empty"),
]


@pytest.mark.parametrize(("text", "path", "words"), REFUSALS)
def test_refusal_names_file_field_and_fix(tmp_path: Path, text: str, path: str, words: str) -> None:
    write(tmp_path, text + "\n")
    error = refusal(tmp_path)
    assert error.file.endswith("autonomy.yaml")
    assert any(p == path and words in m for p, m in error.problems), error.problems
    assert str(error).startswith(error.file + ": ")


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    write(tmp_path, """
        name: Bad_Name
        pods:
          - name: main-pod
            clones: many
            containers: [{name: main, image: main}]
          - name: runner-pod
            size: huge
            containers: [{name: r}]
    """)
    paths = [p for p, _ in refusal(tmp_path).problems]
    assert paths == ["name", "pods[0].clones", "pods[1].size", "pods[1].containers[0].image"]


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    write(tmp_path, "name: a\npods:\n  - name: p\n    containers: [unclosed\n")
    error = refusal(tmp_path)
    assert "line " in str(error) and "invalid YAML" in str(error)


def test_json_syntax_error_names_the_line(tmp_path: Path) -> None:
    write(tmp_path, '{\n  "name": "a",\n  "pods": [,]\n}')
    assert "line 3" in str(refusal(tmp_path))


def test_missing_file_says_where_to_run(tmp_path: Path) -> None:
    error = refusal(tmp_path)
    assert "autonomy.yaml" in error.file and "--dir" in str(error)


def test_models_refuse_bad_values_sent_over_the_api() -> None:
    good = {"name": "a", "pods": [{"name": "p", "containers": [{"name": "c", "image": "i"}]}]}
    assert ZoneSpec.model_validate(good).name == "a"
    with pytest.raises(ValueError, match="a-z and 0-9"):
        ZoneSpec.model_validate({**good, "name": "A"})
    with pytest.raises(ValueError, match="same name: p"):
        ZoneSpec.model_validate({**good, "pods": good["pods"] * 2})
    other = {"name": "q", "containers": [{"name": "c", "image": "i"}]}
    with pytest.raises(ValueError, match="main-pod"):
        ZoneSpec.model_validate({**good, "pods": [*good["pods"], other]})


def test_env_values_and_args_holding_a_nul_character_are_refused(tmp_path: Path) -> None:
    write(tmp_path, """
        name: nul
        pods:
          - name: main-pod
            containers:
              - name: main
                image: main
                env:
                  GREETING: "hi\\0there"
                args: ["ok", "bad\\0arg"]
    """)
    problems = dict(refusal(tmp_path).problems)
    assert "NUL" in problems["pods[0].containers[0].env.GREETING"]
    assert "NUL" in problems["pods[0].containers[0].args[1]"]
