"""tinygrad5's threading policy: numba owns the cores, OpenBLAS runs single-threaded.

Why.  numba's parallel kernels run on an OpenMP pool and numpy's OpenBLAS on its own pthread
pool; after a call each pool's idle workers keep spinning for a while.  On a 2-core machine, an
OpenBLAS GEMM followed by a numba parallel kernel then fights the other pool's spinners: measured
~8 ms per GEMM+kernel pair with default settings against ~0.06 ms for the GEMM alone
(benchmarks/kernels.py, section "thread switch").  With OpenBLAS limited to one thread the pair
costs what its parts cost, and numba's kernels (our GEMM included) use every core.

The reverse policy (numba serial, OpenBLAS on all cores) also removes the fight, but it leaves
im2col, col2im, pooling and our GEMM on one core; see BENCHMARKS.md for both measured.

Idle workers spin briefly, then sleep (OMP_WAIT_POLICY=PASSIVE with GOMP_SPINCOUNT=1000, about
10-30 us of spinning; both left alone if the user set either).  Pure sleeping made a parallel
launch cost 100-180 us on these VMs (waking a halted vCPU), i.e. 10-20% of a LeNet step; pure
spinning (libgomp's default, up to ~3 ms) was ruinous on a machine shared with busy processes: a
LeNet step took 118-177 ms instead of 18-21 ms, because a spinner holds a core that the
descheduled partner it waits for needs.  Measured LeNet b32 step, quiet / with two busy
processes: sleeping 11.2 / 18.2 ms, 1000 spins 9.9 / 19.5 ms, 10000 spins 10.8 / 31.3 ms.
The variables must be set before numba starts its OpenMP pool, i.e. before the first parallel
kernel runs, which ensure_policy() does.

When.  The policy is applied by `ensure_policy()`, which the numba backend calls on first use;
importing tinygrad5 changes nothing.  `set_num_threads(n)` re-applies it with n numba threads.
Ranks that mpiexec starts on one machine share its cores: each takes cores // local ranks numba
threads (read from the launcher's environment) unless NUMBA_NUM_THREADS is set.
The same first use also tunes glibc's malloc to keep freed multi-MB buffers for reuse
(tinygrad5.kernels.memory): page faults on these VMs cost ~5 us per page and doubled a LeNet step.
"""
from __future__ import annotations

_state: dict[str, object] = {"applied": False, "threads": None, "limiter": None}


def max_threads() -> int:
    """Most threads numba can use in this process (NUMBA_NUM_THREADS, default: all cores)."""
    import numba  # imported lazily: importing tinygrad5 must stay cheap
    return int(numba.config.NUMBA_NUM_THREADS)


def _limit_blas_to_one() -> None:
    """Pin every loaded BLAS (OpenBLAS, MKL, BLIS) to one thread, process-wide."""
    from threadpoolctl import threadpool_limits
    try:  # numba binds scipy's own OpenBLAS when it loads compiled kernels: load it now, so the
        import scipy.linalg.cython_blas  # noqa: F401  limit below covers it too
    except ImportError:
        pass
    # Not used as a context manager: the limit stays in force until restore_blas().
    _state["limiter"] = threadpool_limits(limits=1, user_api="blas")


def _apply_once() -> None:
    """Environment, malloc and BLAS parts of the policy; must run before numba's pool starts."""
    if _state["applied"]:
        return
    import os

    from .kernels.memory import tune_malloc
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        # read when numba loads libgomp; the spin count overrides PASSIVE's zero spins
        os.environ["OMP_WAIT_POLICY"], os.environ["GOMP_SPINCOUNT"] = "PASSIVE", "1000"
    tune_malloc()
    _limit_blas_to_one()
    _state["applied"] = True


def ensure_policy() -> None:
    """Apply the policy once (cheap to call before every kernel)."""
    if not _state["applied"]:
        _apply_once()
        _share_cores_with_local_ranks()
        import numba
        _state["threads"] = numba.get_num_threads()  # starts numba's pool, after the env is set


def _share_cores_with_local_ranks() -> None:
    """Under mpiexec, N ranks on one machine use cores // N numba threads each (NUMBA_NUM_THREADS wins)."""
    import os

    from .distributed.env import local_world_size
    local = local_world_size()  # from the launcher's environment: no MPI import here
    if local > 1 and "NUMBA_NUM_THREADS" not in os.environ:
        import numba
        numba.set_num_threads(max(1, max_threads() // local))  # N pools on all cores would oversubscribe


def set_num_threads(n: int) -> None:
    """Use n numba threads for tinygrad5's parallel kernels (applying the policy if not yet done)."""
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= max_threads():
        raise ValueError(f"set_num_threads needs an int in [1, {max_threads()}], got {n!r}")
    _apply_once()
    import numba
    numba.set_num_threads(n)
    _state["threads"] = n


def get_num_threads() -> int:
    """Threads tinygrad5's numba kernels use (numba's setting until the policy is applied)."""
    n = _state["threads"]
    if n is None:
        import numba
        return numba.get_num_threads()
    return n


def restore_blas() -> None:
    """Give BLAS back its original thread count (e.g. before handing the process to other code)."""
    lim = _state["limiter"]
    if lim is not None:
        lim.restore_original_limits()
    _state["limiter"] = None
    _state["applied"] = False
    _state["threads"] = None
