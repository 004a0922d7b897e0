"""gpudeconv.dask on real LocalClusters (worker processes) and the threaded
scheduler: equality with in-memory results, spatial tiles, out of core,
the command line with --scheduler, and a worker killed mid-run."""

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import run_gpudeconv

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")

import gpudeconv  # noqa: E402
import gpudeconv.dask as gd  # noqa: E402
from gpudeconv.dask import NpyStack, restore_stack  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
KERNEL = gpudeconv.psf.motion(9, 30)


def local_cluster():
    """Two single-threaded worker processes, no dashboards."""
    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        worker_dashboard_address=None,
    )


@pytest.fixture(scope="module")
def cluster():
    with local_cluster() as cluster, distributed.Client(cluster) as client:
        yield cluster, client


def frames(n=8, rows=72, cols=96):
    return np.random.default_rng(0).integers(0, 256, (n, rows, cols, 3), dtype=np.uint8)


@pytest.mark.parametrize("method", ["wiener", "richardson_lucy", "sparse"])
def test_frame_chunks_equal_in_memory_on_a_cluster(cluster, method):
    _, client = cluster
    data = frames()
    expected = gpudeconv.deconvolve(data, KERNEL, method, channel_axis=-1, backend="numpy")
    lazy = gd.deconvolve(
        da.from_array(data, chunks=(3, 72, 96, 3)), KERNEL, method, channel_axis=-1, backend="numpy"
    )
    assert lazy.shape == data.shape and lazy.chunks == ((3, 3, 2), (72,), (96,), (3,))
    assert lazy.dtype == expected.dtype
    got = client.compute(lazy).result()
    assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_wiener_options_pass_through():
    data = frames(4).astype(np.float32) / 255
    lazy = gd.wiener(
        da.from_array(data, chunks=(2, 72, 96, 3)),
        KERNEL,
        snr=300,
        channel_axis=-1,
        border="edgetaper",
        backend="numpy",
    )
    expected = gpudeconv.wiener(
        data, KERNEL, snr=300, channel_axis=-1, border="edgetaper", backend="numpy"
    )
    np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-5, atol=1e-6)


def test_spatial_tiles_within_40_db_of_the_whole_image():
    image = np.random.default_rng(1).random((1024, 1024))
    whole = gpudeconv.wiener(image, KERNEL, backend="numpy")
    tiled = gd.wiener(da.from_array(image, chunks=512), KERNEL, backend="numpy")
    assert tiled.chunks == ((512, 512), (512, 512))
    got = tiled.compute()
    value_range = whole.max() - whole.min()
    psnr = 10 * np.log10(value_range**2 / np.mean((got - whole) ** 2))
    assert psnr > 40, psnr
    shallow = gd.wiener(da.from_array(image, chunks=512), KERNEL, depth=4, backend="numpy")
    shallow_psnr = 10 * np.log10(value_range**2 / np.mean((shallow.compute() - whole) ** 2))
    assert shallow_psnr < psnr  # the depth matters: the default is not a no-op


def test_spatial_chunks_smaller_than_depth_are_refused():
    with pytest.raises(ValueError, match="depth"):
        gd.wiener(da.zeros((100, 100), chunks=10), KERNEL)


def test_bad_input():
    with pytest.raises(TypeError, match="dask"):
        gd.wiener(np.zeros((8, 8)), KERNEL)
    with pytest.raises(ValueError, match="snr"):
        gd.wiener(da.zeros((8, 8)), KERNEL, snr=-1)


def test_npy_stack_reads_and_writes_blocks(tmp_path):
    data = frames(5)
    np.save(tmp_path / "a.npy", data)
    stack = NpyStack(tmp_path / "a.npy")
    assert stack.shape == data.shape and stack.dtype == data.dtype
    np.testing.assert_array_equal(stack[1:4], data[1:4])
    out = NpyStack.create(tmp_path / "b.npy", data.shape, data.dtype)
    out[0:2] = data[3:5]
    out[2:5] = data[0:3]
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.roll(data, 2, axis=0))


@pytest.mark.parametrize("suffix", [".npy", ".zarr"])
def test_restore_stack_equals_in_memory(tmp_path, suffix):
    data = frames(7)
    np.save(tmp_path / "in.npy", data)
    target = restore_stack(
        tmp_path / "in.npy",
        tmp_path / f"out{suffix}",
        KERNEL,
        frames_per_chunk=2,
        channel_axis=-1,
        backend="numpy",
    )
    if suffix == ".npy":
        got = np.load(target)
    else:
        import zarr

        got = zarr.open_array(str(target), mode="r")[...]
    # As gpudeconv.deconvolve: Wiener with snr="auto", chosen per frame.
    expected = gpudeconv.deconvolve(data, KERNEL, channel_axis=-1, backend="numpy")
    np.testing.assert_array_equal(got, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.npy", f"out{suffix}"])
    with pytest.raises(FileExistsError):
        restore_stack(tmp_path / "in.npy", target, KERNEL)


def test_restore_stack_failure_leaves_nothing(tmp_path):
    np.save(tmp_path / "in.npy", frames(4))
    with pytest.raises(ValueError):
        # 1-D frames are refused when the lazy graph is built or computed.
        restore_stack(tmp_path / "in.npy", tmp_path / "out.npy", KERNEL, channel_axis=7)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npy"]


def test_out_of_core_memory_stays_bounded(tmp_path):
    """A 400 MB stack through restore_stack in a fresh process: its peak
    resident memory grows far less than the stack's size."""
    script = textwrap.dedent(f"""
        import resource, sys
        import numpy as np
        sys.path.insert(0, {str(ROOT)!r})
        import gpudeconv, gpudeconv.dask as gd
        from gpudeconv.dask import NpyStack, restore_stack
        path = {str(tmp_path / "big.npy")!r}
        stack = NpyStack.create(path, (400, 1000, 1000), np.uint8)
        rng = np.random.default_rng(0)
        for i in range(0, 400, 20):
            stack[i:i + 20] = rng.integers(0, 256, (20, 1000, 1000), dtype=np.uint8)
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        restore_stack(path, {str(tmp_path / "out.npy")!r}, gpudeconv.psf.motion(9, 30),
                      chunk_bytes=16 * 2**20, backend="numpy")
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(base // 1024, peak // 1024)
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr
    base_mib, peak_mib = map(int, result.stdout.split())
    assert peak_mib - base_mib < 250, (base_mib, peak_mib)  # the stack is 381 MiB, twice
    out = np.load(tmp_path / "out.npy", mmap_mode="r")
    assert out.shape == (400, 1000, 1000) and out.dtype == np.uint8 and out[399].std() > 0


run_cli = run_gpudeconv


def test_cli_folder_and_video_on_a_cluster(cluster, tmp_path):
    local_cluster, _ = cluster
    address = local_cluster.scheduler_address
    source = tmp_path / "in"
    source.mkdir()
    from gpudeconv.commands.demo import builtin_image

    photo = builtin_image()[:120, :160]
    for i in range(5):
        cv2.imwrite(str(source / f"{i}.png"), np.roll(photo, 7 * i, axis=1))
    (source / "broken.png").write_bytes(b"garbage")
    result = run_cli(
        "deblur", source, "-o", tmp_path / "out", "--psf", "motion:9:30", "--scheduler", address
    )
    assert result.returncode == 1 and "broken.png" in result.stderr, result.stderr
    assert "restored 5" in result.stderr
    for i in range(5):
        local = gpudeconv.wiener(
            np.roll(photo, 7 * i, axis=1), KERNEL, channel_axis=-1, backend="numpy"
        )
        remote = cv2.imread(str(tmp_path / "out" / f"{i}.png"))
        assert np.abs(local.astype(int) - remote).max() <= 1

    writer = cv2.VideoWriter(
        str(tmp_path / "clip.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120)
    )
    for i in range(23):
        writer.write(np.roll(photo, 3 * i, axis=1))
    writer.release()
    result = run_cli(
        "video",
        tmp_path / "clip.avi",
        tmp_path / "out.avi",
        "--psf",
        "motion:9:30",
        "--batch-size",
        "4",
        "--scheduler",
        address,
    )
    assert result.returncode == 0, result.stderr
    assert "restored as yuvj420p planes" in result.stderr  # MJPEG's own planes, remotely
    capture = cv2.VideoCapture(str(tmp_path / "out.avi"))
    count = 0
    while capture.read()[0]:
        count += 1
    assert count == 23


def test_cli_unreachable_scheduler(tmp_path):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((32, 32), np.uint8))
    result = run_cli(
        "deblur",
        tmp_path / "a.png",
        "-o",
        tmp_path / "b.png",
        "--psf",
        "motion:9:30",
        "--scheduler",
        "tcp://127.0.0.1:9",
    )
    assert result.returncode == 1 and "scheduler" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "b.png").exists()


@pytest.mark.filterwarnings("ignore:Port 8787 is already in use")  # the restarted worker
def test_worker_killed_mid_computation_still_completes(tmp_path):
    with local_cluster() as cluster, distributed.Client(cluster) as client:
        # Made on the workers (seeded: the same numbers every time).
        stack = da.random.default_rng(2).random((24, 256, 256), chunks=(2, 256, 256))
        expected = gpudeconv.sparse_deconvolve(
            stack.compute(scheduler="threads"), KERNEL, backend="numpy"
        )
        lazy = gd.deconvolve(stack, KERNEL, "sparse", backend="numpy")
        future = client.compute(lazy)
        scheduler = cluster.scheduler

        def restored():
            return sum(
                t.state == "memory"
                for k, t in scheduler.tasks.items()
                if str(k).startswith("('gpudeconv-sparse")
            )

        deadline = time.time() + 120
        while restored() < 2 and time.time() < deadline:
            time.sleep(0.02)
        assert 2 <= restored() < 12, "the kill should come mid-computation"
        victim = next(iter(cluster.workers.values()))
        victim.process.process.kill()  # the worker process dies mid-run
        got = future.result(timeout=300)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("snr", [100, 1000])
def test_tiles_reproduce_the_whole_image_to_the_edges(snr):
    # Issue 10, defect 10: the outermost pixels of a tiled result used to
    # depend on the tile's padded size (15.8 dB at snr 1000), and a depth of
    # 3x the PSF was too short; the depth now comes from the filter's reach.
    kernel = gpudeconv.psf.motion(15, 30)
    image = np.random.default_rng(3).random((600, 700))
    whole = gpudeconv.wiener(image, kernel, snr=snr, iterations=0, backend="numpy")
    depth = gd.default_depth(kernel, snr=snr)
    assert depth > 3 * 15 and depth > gd.default_depth(kernel, snr=snr / 10)
    tiled = gd.wiener(da.from_array(image, chunks=(300, 350)), kernel, snr=snr, backend="numpy")
    got = tiled.compute(scheduler="sync")
    assert got.shape == whole.shape
    value_range = whole.max() - whole.min()
    error = np.abs(got - whole)
    psnr = 10 * np.log10(value_range**2 / np.mean(error**2))
    assert psnr > 45, psnr
    # The outer edges are no worse than the interior.
    edges = np.concatenate([error[:20].ravel(), error[-20:].ravel(), error[:, :20].ravel()])
    assert edges.max() <= 2 * error.max() and edges.max() < 0.05 * value_range


def test_tiles_keep_uint8_rounding_and_colour_layout():
    data = frames(2, 160, 200)
    kernel = gpudeconv.psf.motion(7, 30)
    whole = gpudeconv.wiener(data, kernel, snr=100, iterations=0, channel_axis=-1, backend="numpy")
    tiled = gd.wiener(
        da.from_array(data, chunks=(1, 80, 100, 3)),
        kernel,
        snr=100,
        channel_axis=-1,
        backend="numpy",
    )
    got = tiled.compute(scheduler="sync")
    assert (
        got.dtype == np.uint8 and tiled.chunks == da.from_array(data, chunks=(1, 80, 100, 3)).chunks
    )
    # Rounding is the engine's: most pixels agree exactly, the rest are off by
    # what the reach's tolerance leaves on (strongly amplified) white noise.
    difference = np.abs(got.astype(int) - whole.astype(int))
    assert (difference == 0).mean() > 0.7 and difference.max() <= 4
