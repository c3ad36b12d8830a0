import pytest

from voxtral_gateway.audio import AudioLimits, check_source_format, new_file_container, sniff_container
from voxtral_gateway.errors import AudioRejected


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


@pytest.mark.parametrize(
    ("piece", "expected"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", "wav"),
        (b"OggS\x00\x02\x00\x00", "ogg"),  # beginning of a logical stream
        (b"OggS\x00\x00\x00\x00", None),  # a page in the middle of one
        (b"\x1a\x45\xdf\xa3\x01\x00", "webm"),
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3"),
        (b"\xff\xfb\x90\x64\x00", None),  # an MP3 frame may be anywhere in a stream
        (b"\xff\xf1\x50\x80\x00", None),
        (b"", None),
    ],
)
def test_a_stream_piece_starts_a_new_file_only_with_an_unmistakable_header(piece, expected):
    assert new_file_container(piece) == expected


@pytest.mark.parametrize(
    ("rate", "channels", "stream", "message"),
    [
        (96_000, 1, False, "audio_file has a sample rate of 96000 Hz; supported: 8000–48000 Hz"),
        (96_000, 1, True, "the stream's sample rate is 96000 Hz; supported: 8000–48000 Hz"),
        (16_000, 3, False, "audio_file has 3 channels; supported: 1–2"),
        (16_000, 3, True, "the stream has 3 channels; supported: 1–2"),
    ],
)
def test_files_and_streams_share_one_source_format_check(rate, channels, stream, message):
    limits = AudioLimits(max_bytes=1, max_duration_seconds=1)
    with pytest.raises(AudioRejected) as rejected:
        check_source_format(rate, channels, limits, stream=stream)
    assert rejected.value.message == message
    assert rejected.value.field == (None if stream else "audio_file")
    check_source_format(48_000, 2, limits, stream=stream)
