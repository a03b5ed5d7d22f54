"""The codec works after fork, in every multiprocessing start method, and from threads.

A process that ran a parallel kernel under GNU OpenMP cannot fork safely
(the child hangs); codec/runtime.py makes Numba pick the TBB layer. Each check
runs in a fresh interpreter with a timeout, so a hang fails instead of
blocking the suite.
"""

import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
    """
    import concurrent.futures as cf, multiprocessing as mp, sys
    import numpy as np
    import codec

    def work(seed):
        x = np.random.default_rng(seed).standard_normal(50_000).astype(np.float32)
        blob = codec.encode(x, lattice="E8", step=0.1, seed=seed, chunk_size=4096)
        return blob, codec.decode(blob).tobytes()

    if __name__ == "__main__":
        expected = [work(s) for s in range(4)]  # the parent runs the parallel kernels first
        method = sys.argv[1]
        if method == "threads":
            with cf.ThreadPoolExecutor(4) as ex:
                got = list(ex.map(work, range(4)))
        elif method == "executor":
            with cf.ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as ex:
                got = list(ex.map(work, range(4)))
        else:
            with mp.get_context(method).Pool(2) as pool:
                got = pool.map(work, range(4))
        assert got == expected, "children produced different bytes"
        import numba
        print("ok", numba.threading_layer())
    """
)


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn", "executor", "threads"])
def test_codec_after_fork_and_in_threads(tmp_path, method):
    script = tmp_path / "fork_check.py"
    script.write_text(SCRIPT)
    try:
        out = subprocess.run(
            [sys.executable, str(script), method],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the codec hung in a {method} child (threading layer not fork-safe?)")
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.startswith("ok"), out.stdout
