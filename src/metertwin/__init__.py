"""metertwin: a software smart electricity meter, the virtual twin of an AMI/prepayment meter."""

__version__ = "0.1.0"
