"""Media go through the storage API: the same helpers work on a local filesystem and on
S3-compatible object storage (a real S3 API served by moto on localhost)."""

from __future__ import annotations

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


def test_s3_storage_roundtrip_downloads_a_local_copy_and_cleans_it(settings, s3_storage):
    from django.core.files.storage import default_storage

    name = default_storage.save("videos/clip.bin", ContentFile(b"frame" * 5000))
    with media.local_copy(name) as path:
        assert path.read_bytes() == b"frame" * 5000
        # Remote storage has no local path: the copy is a temp file in scratch space.
        assert str(path).startswith(str(settings.SCRATCH_DIR))
    assert not path.exists()
    media.delete_quietly(name)
    assert not default_storage.exists(name)


def test_byte_ranges_of_an_s3_object_are_read_with_ranged_gets(s3_storage):
    from django.core.files.storage import default_storage

    from webapp.ranged import stored_file_ranges

    data = bytes(range(256)) * 40
    name = default_storage.save("videos/ranges.bin", ContentFile(data))
    source = stored_file_ranges(name)
    assert source is not None and source.size == len(data)
    with source.open(1000, 500) as part:
        assert part.read() == data[1000:1500]  # the GET asked for those bytes only
    assert source.open(0, 0).read() == b""
    assert stored_file_ranges("videos/never-stored.bin") is None
    media.delete_quietly(name)
