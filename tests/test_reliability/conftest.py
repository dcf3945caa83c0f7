import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """These tests run many small ops; on the 2 shared CPU cores of CI a
    second intra-op thread mostly spins. One thread, restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
