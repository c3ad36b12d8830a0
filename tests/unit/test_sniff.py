import pytest

from voxtral_gateway.audio import sniff_container


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"OggS\x00\x02", "ogg"),
        (b"\x00\x00\x00\x20ftypM4A ", "m4a"),
        (b"\x1a\x45\xdf\xa3\x01\x00", "webm"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00", "mp3"),
        (b"\xff\xfb\x90\x64\x00", "mp3"),
        (b"\xff\xf1\x50\x80\x00", "aac"),
        (b"hello, world", None),
        (b"", None),
    ],
)
def test_containers_are_recognised_from_their_first_bytes(head, expected):
    assert sniff_container(head) == expected


def test_id3_tag_in_front_of_flac_is_looked_past():
    tag = b"ID3\x04\x00\x00\x00\x00\x00\x05" + b"\x00" * 5
    assert sniff_container(tag + b"fLaC\x00\x00\x00\x22") == "flac"
