"""Timing large matrix multiplications on this machine, for ``tiergate verify probe --run``.

On an NVIDIA accelerator through PyTorch (the ``gpu`` extra) when one is present: bf16 and fp16 GEMMs,
and fp8 through ``torch._scaled_mm`` on parts that have it; the device's name and count, and its clocks and
throttle reasons from ``nvidia-smi`` where the driver gives them. Otherwise on the CPU with NumPy, which
says nothing about an accelerator: the result says so, and the verdict is then inconclusive at best.
Each rate is the best of several timed runs after a warm-up (dense FLOP = 2·n³ per product).
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import time
from collections.abc import Callable
from typing import Any

GPU_SIZE = 8192
CPU_SIZE = 1024
REPEATS = 5


def _best_rate(run: Callable[[], None], flop: float, sync: Callable[[], None], repeats: int) -> float:
    run()
    sync()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        sync()
        best = min(best, time.perf_counter() - start)
    return flop / best / 1e12


def _product(multiply: Callable[[Any, Any], Any], a: Any, b: Any) -> Callable[[], None]:
    def run() -> None:
        multiply(a, b)

    return run


def _no_sync() -> None:
    return None


def _nvidia_smi() -> dict[str, object]:
    tool = shutil.which("nvidia-smi")
    if tool is None:
        return {}
    query = "name,clocks.sm,clocks.max.sm,clocks_throttle_reasons.active,power.draw,temperature.gpu"
    try:
        done = subprocess.run(  # noqa: S603 - a fixed query to the driver's own tool
            [tool, f"--query-gpu={query}", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return {}
    rows = [line.split(", ") for line in done.stdout.strip().splitlines() if line.strip()]
    keys = query.split(",")
    return {"nvidia_smi": [dict(zip(keys, row, strict=False)) for row in rows]} if rows else {}


def gpu_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def run_gpu(size: int = GPU_SIZE, repeats: int = REPEATS) -> tuple[dict[str, float], dict[str, object]]:
    """Dense GEMM rates (TFLOP/s) per precision on CUDA device 0."""
    import torch

    device = torch.device("cuda:0")
    rates: dict[str, float] = {}
    flop = 2.0 * size**3
    for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
        a = torch.randn(size, size, device=device, dtype=dtype)
        b = torch.randn(size, size, device=device, dtype=dtype)
        rates[name] = _best_rate(_product(torch.matmul, a, b), flop, torch.cuda.synchronize, repeats)
    fp8 = getattr(torch, "float8_e4m3fn", None)
    if fp8 is not None and hasattr(torch, "_scaled_mm"):
        try:
            a8 = torch.randn(size, size, device=device).to(fp8)
            b8 = torch.randn(size, size, device=device).to(fp8).t()  # column-major second operand
            one = torch.tensor(1.0, device=device)
            rates["fp8"] = _best_rate(
                lambda: torch._scaled_mm(a8, b8, scale_a=one, scale_b=one, out_dtype=torch.bfloat16),
                flop,
                torch.cuda.synchronize,
                repeats,
            )
        except (RuntimeError, TypeError):  # a part or a build without fp8 GEMMs
            pass
    environment: dict[str, object] = {
        "engine": "torch-cuda",
        "device": torch.cuda.get_device_name(0),
        "device_count": torch.cuda.device_count(),
        "torch": torch.__version__,
        "matrix": size,
        **_nvidia_smi(),
    }
    return rates, environment


def run_cpu(size: int = CPU_SIZE, repeats: int = REPEATS) -> tuple[dict[str, float], dict[str, object]]:
    """Dense GEMM rates on the CPU with NumPy (fp32 and fp64): a check of the probe, not of an accelerator."""
    import numpy as np

    rng = np.random.default_rng(0)
    rates: dict[str, float] = {}
    flop = 2.0 * size**3
    for name, dtype in (("fp32", np.float32), ("fp64", np.float64)):
        a = rng.standard_normal((size, size)).astype(dtype)
        b = rng.standard_normal((size, size)).astype(dtype)
        rates[name] = _best_rate(_product(np.matmul, a, b), flop, _no_sync, repeats)
    environment: dict[str, object] = {
        "engine": "numpy-cpu",
        "device": platform.processor() or platform.machine(),
        "matrix": size,
        "note": "no accelerator found: these are the CPU's rates, which say nothing about the declared chip",
    }
    return rates, environment


def run(size: int | None = None) -> tuple[dict[str, float], dict[str, object]]:
    """Rates on the accelerator when PyTorch sees one, else on the CPU (the environment says which)."""
    if gpu_available():
        return run_gpu(size or GPU_SIZE)
    return run_cpu(size or CPU_SIZE)
