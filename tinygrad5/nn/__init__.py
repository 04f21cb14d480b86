"""Neural-network building blocks shaped like torch.nn: Module, layers, activations, losses, init."""
from . import functional, init
from . import parallel  # noqa: F401  nn.parallel.DistributedDataParallel (imports no MPI)
from .activations import LeakyReLU, ReLU, Sigmoid, Softmax, Tanh
from .layers import Conv2d, Dropout, Flatten, Linear, MaxPool2d
from .loss import CrossEntropyLoss, MSELoss
from .module import IncompatibleKeys, Module, Parameter, Sequential, functional_call

__all__ = ["Conv2d", "CrossEntropyLoss", "Dropout", "Flatten", "IncompatibleKeys", "LeakyReLU", "Linear",
           "MSELoss", "MaxPool2d", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Softmax", "Tanh",
           "functional", "functional_call", "init"]
