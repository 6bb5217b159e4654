"""The image map: matching images to entries and building a container's command line."""

from __future__ import annotations

import pathlib
import sys

import pytest

from greenlight_sandbox.images import (
    CommandRefused,
    ImageMap,
    ImageMapError,
    UnmappedImage,
    repository_of,
)


@pytest.mark.parametrize(
    ("image", "repository"),
    [
        ("greenlight/sample", "greenlight/sample"),
        ("greenlight/sample:1.2", "greenlight/sample"),
        (
            "registry.example.com/greenlight/api:1.2@sha256:abc",
            "registry.example.com/greenlight/api",
        ),
        ("localhost:5000/greenlight/api", "localhost:5000/greenlight/api"),
        ("localhost:5000/greenlight/api:7", "localhost:5000/greenlight/api"),
    ],
)
def test_the_repository_drops_tag_and_digest_but_not_a_registry_port(
    image: str, repository: str
) -> None:
    assert repository_of(image) == repository


def test_the_shipped_map_runs_the_sample_and_the_api_with_this_python() -> None:
    images = ImageMap.load()
    sample = images.command_for(
        "registry.example.com/greenlight/sample:2.0", pod_ip="127.0.1.7", port=8000, args=["-v"]
    )
    assert sample == [
        sys.executable,
        "-m",
        "greenlight_sample",
        "--host",
        "127.0.1.7",
        "--port",
        "8000",
        "-v",
    ]
    api = images.command_for("greenlight/api:abc", pod_ip="127.0.1.8", port=None)
    assert api == [
        sys.executable,
        "-m",
        "uvicorn",
        "greenlight_api.main:app",
        "--host",
        "127.0.1.8",
        "--port",
        "8080",
    ]


def test_a_container_command_runs_only_when_the_map_names_it() -> None:
    images = ImageMap.load()
    operator = images.command_for(
        "greenlight/operator:1",
        pod_ip="127.0.1.9",
        port=8080,
        command=["kopf"],
        args=["run", "--standalone"],
    )
    assert operator == [sys.executable, "-m", "kopf", "run", "--standalone"]
    with pytest.raises(CommandRefused, match=r"'/bin/sh'.*greenlight/sample.*images\.yaml"):
        images.command_for(
            "greenlight/sample", pod_ip="127.0.1.9", port=80, command=["/bin/sh", "-c", "x"]
        )


def test_an_unmapped_image_names_the_image_and_the_map_file() -> None:
    images = ImageMap.load()
    with pytest.raises(UnmappedImage) as error:
        images.command_for("nginx:1.27", pod_ip="127.0.1.1", port=80)
    assert "'nginx:1.27'" in str(error.value)
    assert str(ImageMap.default_path()) in str(error.value)
    with pytest.raises(UnmappedImage):  # a key matches whole path segments only
        images.entry_for("other-greenlight/sample")


def test_the_longest_matching_key_wins_and_here_is_the_map_directory(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "images.yaml"
    path.write_text(
        "images:\n"
        "  sample: {command: ['short']}\n"
        "  team/sample: {command: ['{python}', '{here}/app.py', '{{literal}}']}\n"
    )
    images = ImageMap.load(path)
    assert images.command_for("r.example/team/sample:1", pod_ip="x", port=1) == [
        sys.executable,
        f"{tmp_path}/app.py",
        "{literal}",
    ]
    assert images.command_for("other/sample", pod_ip="x", port=1) == ["short"]


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[]", "mapping `images`"),
        ("images: {a: {command: []}}", "non-empty list"),
        ("images: {a: {command: ['{pod}']}}", "unknown placeholder"),
        ("images: {a: {command: ['x'], entrypoint: ['y']}}", "unknown field"),
        ("images: {a: {command: ['x'], commands: {sh: 'sh'}}}", "commands.sh"),
    ],
)
def test_a_malformed_map_is_refused_when_loaded(
    tmp_path: pathlib.Path, text: str, complaint: str
) -> None:
    path = tmp_path / "images.yaml"
    path.write_text(text)
    with pytest.raises(ImageMapError, match=complaint):
        ImageMap.load(path)
