"""The image map: which local command stands in for a container image in the sandbox.

The sandbox cannot pull images; its kubelet looks each container's image up in a YAML map
(``images.yaml`` in this package by default; the file's comments explain every field) and
starts the command found there. This module owns reading that file, matching an image to an
entry (tag and digest ignored; the repository or its trailing path segments; the longest key
wins) and building the argument list of a container.
"""

from __future__ import annotations

import dataclasses
import pathlib
import string
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Self

import yaml

DEFAULT_PORT = 8080
PLACEHOLDERS = frozenset({"python", "pod_ip", "port", "here"})


class ImageMapError(ValueError):
    """The map file itself is malformed."""


class UnmappedImage(LookupError):
    """No entry of the map matches the image."""

    def __init__(self, image: str, map_path: pathlib.Path) -> None:
        self.image = image
        self.map_path = map_path
        super().__init__(
            f"the sandbox runs no image {image!r}: no entry of the image map {map_path} matches "
            "its repository (add one there)"
        )


class CommandRefused(ValueError):
    """The container sets its own ``command`` and the map says nothing about it."""

    def __init__(self, image: str, command: Sequence[str], map_path: pathlib.Path) -> None:
        self.image = image
        self.command = list(command)
        self.map_path = map_path
        first = command[0] if command else ""
        super().__init__(
            f"the sandbox cannot run the container command {list(command)!r} of image "
            f"{image!r}: the image map {map_path} maps no command {first!r} for it (only "
            "commands listed under the entry's `commands` run)"
        )


def repository_of(image: str) -> str:
    """The repository of an image reference: without ``@digest`` and without ``:tag``."""
    name = image.split("@", 1)[0]
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:  # a colon before the last slash belongs to a registry host:port
        name = name[:colon]
    return name


def _check_template(template: Any, where: str, map_path: pathlib.Path) -> list[str]:
    if not isinstance(template, list) or not template:
        raise ImageMapError(f"{map_path}: {where} must be a non-empty list of strings")
    for item in template:
        if not isinstance(item, str):
            raise ImageMapError(f"{map_path}: {where} must be a list of strings, not {item!r}")
        try:
            fields = [field for _, field, _, _ in string.Formatter().parse(item) if field]
        except ValueError as error:
            raise ImageMapError(f"{map_path}: {where}: {item!r}: {error}") from None
        unknown = set(fields) - PLACEHOLDERS
        if unknown:
            raise ImageMapError(
                f"{map_path}: {where}: unknown placeholder(s) {sorted(unknown)} in {item!r} "
                f"(known: {sorted(PLACEHOLDERS)})"
            )
    return list(template)


@dataclasses.dataclass(frozen=True)
class ImageEntry:
    """One entry of the map: the image's entrypoint and its container-command mappings."""

    key: str
    command: list[str]
    commands: dict[str, list[str]]


class ImageMap:
    """The entries of one map file (see the module docstring)."""

    def __init__(self, entries: Mapping[str, ImageEntry], path: pathlib.Path) -> None:
        self.entries = dict(entries)
        self.path = path

    @classmethod
    def default_path(cls) -> pathlib.Path:
        return pathlib.Path(__file__).with_name("images.yaml")

    @classmethod
    def load(cls, path: str | pathlib.Path | None = None) -> Self:
        """Read a map file (default: the one shipped with this package)."""
        map_path = pathlib.Path(path) if path is not None else cls.default_path()
        document = yaml.safe_load(map_path.read_text())
        images = document.get("images") if isinstance(document, dict) else None
        if not isinstance(images, dict):
            raise ImageMapError(f"{map_path}: the top level must hold a mapping `images`")
        entries: dict[str, ImageEntry] = {}
        for key, body in images.items():
            if not isinstance(body, dict):
                raise ImageMapError(f"{map_path}: images.{key} must be a mapping")
            unknown = set(body) - {"command", "commands"}
            if unknown:
                raise ImageMapError(f"{map_path}: images.{key}: unknown field(s) {sorted(unknown)}")
            command = _check_template(body.get("command"), f"images.{key}.command", map_path)
            raw_commands = body.get("commands") or {}
            if not isinstance(raw_commands, dict):
                raise ImageMapError(f"{map_path}: images.{key}.commands must be a mapping")
            commands = {
                str(name): _check_template(value, f"images.{key}.commands.{name}", map_path)
                for name, value in raw_commands.items()
            }
            entries[str(key)] = ImageEntry(str(key), command, commands)
        return cls(entries, map_path)

    def entry_for(self, image: str) -> ImageEntry:
        """The entry matching ``image``, or :class:`UnmappedImage`."""
        repository = repository_of(image)
        matching = [
            key for key in self.entries if repository == key or repository.endswith(f"/{key}")
        ]
        if not matching:
            raise UnmappedImage(image, self.path)
        return self.entries[max(matching, key=len)]

    def command_for(
        self,
        image: str,
        *,
        pod_ip: str,
        port: int | None,
        args: Sequence[str] = (),
        command: Sequence[str] | None = None,
    ) -> list[str]:
        """The argument list of a container: the image's command (or its mapped ``command``),
        then ``args``. Raises :class:`UnmappedImage` or :class:`CommandRefused`."""
        entry = self.entry_for(image)
        values = {
            "python": sys.executable,
            "pod_ip": pod_ip,
            "port": str(DEFAULT_PORT if port is None else port),
            "here": str(self.path.parent),
        }
        if command:
            template = entry.commands.get(command[0])
            if template is None:
                raise CommandRefused(image, command, self.path)
            rest = list(command[1:])
        else:
            template, rest = entry.command, []
        return [item.format_map(values) for item in template] + rest + list(args)
