"""Media go through the storage API: the same helpers work on a local filesystem and on
S3-compatible object storage (a real S3 API served by moto on localhost)."""

from __future__ import annotations

import pytest

from django.core.files.base import ContentFile

from webapp import storage as media


def test_filesystem_storage_gives_the_file_itself_and_stores_copies(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
    }
    from django.core.files.storage import default_storage

    name = default_storage.save("checks/hello.bin", ContentFile(b"\x00mouse\xff" * 1000))
    with media.local_copy(name) as path:
        assert path == tmp_path / name  # no copy on a local filesystem
        stored = media.store_file(local_path=path, name="checks/copy.bin")
    with default_storage.open(stored, "rb") as fh:
        assert fh.read() == b"\x00mouse\xff" * 1000
    assert media.sha256_of_file(tmp_path / stored) == media.sha256_of_file(tmp_path / name)
    media.delete_quietly(name, stored, "checks/never-existed.bin")
    assert not default_storage.exists(name) and not default_storage.exists(stored)


@pytest.fixture
def s3_endpoint():
    pytest.importorskip("moto.server")
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="lab-media")
    yield endpoint
    server.stop()


def test_s3_storage_roundtrip_downloads_a_local_copy_and_cleans_it(settings, s3_endpoint):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": "lab-media",
                "endpoint_url": s3_endpoint,
                "region_name": "us-east-1",
                "access_key": "test",
                "secret_key": "test",
                "file_overwrite": False,
            },
        },
    }
    from django.core.files.storage import default_storage

    name = default_storage.save("videos/clip.bin", ContentFile(b"frame" * 5000))
    with media.local_copy(name) as path:
        assert path.read_bytes() == b"frame" * 5000
        # Remote storage has no local path: the copy is a temp file in scratch space.
        assert str(path).startswith(str(settings.SCRATCH_DIR))
    assert not path.exists()
    media.delete_quietly(name)
    assert not default_storage.exists(name)
