"""What the launcher tells a process, read from the environment without importing MPI: how many
ranks share this machine, and where the `mpiexec` of the installed MPI is."""
from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

# The variables MPI launchers set for the number of ranks on this node: MPICH's Hydra (the mpich
# wheel), Open MPI, and Slurm's srun.
_LOCAL_SIZE_VARS = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE", "SLURM_NTASKS_PER_NODE")
_RANK_VARS = ("PMI_RANK", "PMIX_RANK", "OMPI_COMM_WORLD_RANK")


def local_world_size() -> int:
    """Ranks started on this machine by mpiexec (1 when the process was not started by a launcher)."""
    for var in _LOCAL_SIZE_VARS:
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) >= 1:
            return int(value)
    return 1


def launched_by_mpiexec() -> bool:
    """True when an MPI launcher started this process (its rank variable is set)."""
    return any(var in os.environ for var in _RANK_VARS)


def find_mpiexec() -> str | None:
    """Path of `mpiexec`: the one next to this Python (where the mpich wheel puts it), else PATH's."""
    # A wheel's scripts land in this interpreter's scripts folder, which need not be on PATH (a
    # venv not activated, pyenv shims); preferring it keeps mpiexec and mpi4py's library matched.
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        if folder:
            candidate = Path(folder) / ("mpiexec.exe" if os.name == "nt" else "mpiexec")
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    return shutil.which("mpiexec")
