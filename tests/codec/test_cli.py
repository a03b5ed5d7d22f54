"""The rdcodec command line."""

import json

import numpy as np

from codec.cli import main


def test_encode_inspect_decode(tmp_path, capsys):
    x = np.random.default_rng(0).standard_normal((200, 300)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    assert (
        main(
            [
                "encode",
                str(tmp_path / "x.npy"),
                str(tmp_path / "x.rdc"),
                "--rate",
                "4",
                "--lattice",
                "D4",
            ]
        )
        == 0
    )
    assert main(["inspect", str(tmp_path / "x.rdc")]) == 0
    info = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert info["lattice"] == "D4" and info["shape"] == [200, 300]
    assert main(["decode", str(tmp_path / "x.rdc"), str(tmp_path / "y.npy")]) == 0
    y = np.load(tmp_path / "y.npy")
    assert y.shape == x.shape and y.dtype == x.dtype


def test_errors_give_exit_codes(tmp_path, capsys):
    (tmp_path / "bad.rdc").write_bytes(b"not a stream")
    assert main(["decode", str(tmp_path / "bad.rdc"), str(tmp_path / "o.npy")]) == 1
    np.save(tmp_path / "i.npy", np.arange(5))
    assert main(["encode", str(tmp_path / "i.npy"), str(tmp_path / "o.rdc")]) == 2
    assert "float" in capsys.readouterr().err
