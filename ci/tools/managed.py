"""The managed engines (ci/engines.toml): their commands, made by the engine classes that start the suite's configured
instances (fixtures/engines/), so ci/engines and the launcher start engines with the same code; and the paths and
users ci/engines needs, said once.

    managed.py command NAME [VAR=VALUE...]   writes NAME's configuration files; prints its environment (VAR=VALUE
                                             lines, for env) then its argv, one per line (needs the project's venv)
    managed.py shell                         bash assignments: STATE, DATA, CACHE, LAUNCH (fixtures/paths.py), and
                                             per engine SOCKET, ENGINE_USER, ENGINE_UID, ENGINE_SUBIDS (arrays)
    managed.py names                         the managed engines, in the file's order

Exits 2 with one line on an unknown engine or a missing variable. ``shell`` and ``names`` need the standard library
only (ci/engines status runs before the venv exists).
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from fixtures import paths
from fixtures.engine_config import EngineConfig  # the standard library's only, as fixtures/paths.py

if TYPE_CHECKING:
    from fixtures.engines.base import Command, Launcher, Places

ROOT = Path(__file__).resolve().parents[2]
FILE = ROOT / "ci" / "engines.toml"
VARIABLE = re.compile(r"\{([A-Z]+)\}")  # {STATE}: JSON's and TOML's own braces hold a quote or a space
OWN_KEYS = {"binary", "wrapper", "path", "places", "user", "uid", "subids"}  # the rest are EngineConfig's fields


@dataclass(frozen=True)
class Managed:
    name: str
    launcher: Launcher
    config: EngineConfig
    places: Places

    def command(self) -> Command:
        return self.launcher.command(self.config, self.places)


def table(path: Path = FILE) -> dict[str, dict[str, Any]]:
    entries = tomllib.loads(path.read_text())
    for name, entry in entries.items():
        unknown = set(entry) - OWN_KEYS - {f.name for f in fields(EngineConfig)}
        if unknown:
            raise ValueError(f"{path.name}: [{name}] has unknown keys {', '.join(sorted(unknown))}")
    return entries


def user_variables(entry: dict[str, Any]) -> dict[str, str]:
    """{HOME} and {RUNTIME} of a rootless engine's user (its uid: the file's, else this machine's, once it exists)."""
    user = entry.get("user")
    if not user:
        return {}
    uid = entry.get("uid")
    if uid is None:
        try:
            uid = pwd.getpwnam(user).pw_uid
        except KeyError:
            uid = "unknown"
    return {"HOME": f"/home/{user}", "RUNTIME": f"/run/user/{uid}"}


def expand(value: str, known: dict[str, str], where: str) -> str:
    missing = [v for v in VARIABLE.findall(value) if v not in known]
    if missing:
        raise ValueError(f"{where} needs {missing[0]} (ci/engines passes it as VAR=VALUE)")
    return VARIABLE.sub(lambda m: known[m.group(1)], value)


def variables(entry: dict[str, Any], given: dict[str, str]) -> dict[str, str]:
    return {"STATE": str(paths.STATE), "DATA": str(paths.DATA), **user_variables(entry), **given}


def load(name: str, given: dict[str, str], path: Path = FILE) -> Managed:
    """The managed engine ``name`` of ``path``, its strings' {VAR}s replaced (STATE, DATA, HOME, RUNTIME, then
    ``given``)."""
    from fixtures.engines import LAUNCHERS
    from fixtures.engines.base import Places

    entries = table(path)
    if name not in entries:
        raise ValueError(f"no managed engine {name!r} in {path.name} (it has {', '.join(entries)})")
    entry = entries[name]
    known, where = variables(entry, given), f"{path.name}: [{name}]"

    def text(value: str) -> str:
        return expand((path.parent / value[1:]).read_text() if value.startswith("@") else value, known, where)

    def value(v: Any) -> Any:  # a TOML value as EngineConfig holds it: strings expanded, lists and tables tuples
        if isinstance(v, str):
            return text(v)
        if isinstance(v, dict):
            return tuple((k, value(x)) for k, x in v.items())
        return tuple(value(x) for x in v) if isinstance(v, list) else v

    config = EngineConfig(**{"name": name, **{k: value(v) for k, v in entry.items() if k not in OWN_KEYS}})
    place_names = {f.name for f in fields(Places)} - {"cgroup_parent"}
    if set(entry["places"]) - place_names or not {"socket", "config_dir"} <= set(entry["places"]):
        raise ValueError(f"{where} places: socket and config_dir, and of {', '.join(sorted(place_names))}")
    given_places: dict[str, Any] = {key: Path(text(value)) for key, value in entry["places"].items()}
    places = Places(**given_places)
    wrapper = {"wrapper": entry["wrapper"]} if entry.get("wrapper") else {}
    launcher = LAUNCHERS[entry["kind"]](binary=entry["binary"], path=text(entry.get("path", "")), **wrapper)
    return Managed(name, launcher, config, places)


def shell(path: Path = FILE) -> str:
    """ci/engines' assignments: the paths, per engine its socket and user, and the engines' names."""
    lines = [f"{name}={shlex.quote(str(value))}" for name, value in paths.SHELL.items()]
    entries = table(path)
    arrays: dict[str, dict[str, str]] = {"SOCKET": {}, "ENGINE_USER": {}, "ENGINE_UID": {}, "ENGINE_SUBIDS": {}}
    for name, entry in entries.items():
        known = variables(entry, {})
        arrays["SOCKET"][name] = expand(entry["places"]["socket"], known, f"{path.name}: [{name}]")
        for array, key in (("ENGINE_USER", "user"), ("ENGINE_UID", "uid"), ("ENGINE_SUBIDS", "subids")):
            if key in entry:
                arrays[array][name] = str(entry[key])
    for array, values in arrays.items():
        lines.append(f"declare -gA {array}=(" + " ".join(f"[{k}]={shlex.quote(v)}" for k, v in values.items()) + ")")
    lines.append(f"ENGINES={shlex.quote(' '.join(entries))}")  # in the file's order
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    try:
        if argv == ["names"]:
            print("\n".join(table()))
            return 0
        if argv == ["shell"]:
            print(shell())
            return 0
        if len(argv) < 2 or argv[0] != "command" or not all("=" in a for a in argv[2:]):
            print("managed.py: usage: command NAME [VAR=VALUE...] | shell | names", file=sys.stderr)
            return 2
        given = dict(a.split("=", 1) for a in argv[2:])
        given.setdefault("PATH", os.environ.get("PATH", ""))
        command = load(argv[1], given).command()
    except (ValueError, OSError, tomllib.TOMLDecodeError) as err:
        print(f"managed.py: {err}", file=sys.stderr)
        return 2
    print("\n".join([*(f"{k}={v}" for k, v in command.env.items()), *command.argv]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
