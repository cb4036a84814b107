"""The typed IR: nodes, traversal, verifier and printer."""
from .nodes import *  # noqa: F401,F403
from .nodes import Op  # noqa: F401
from .printer import format_expr, format_kernel  # noqa: F401,E402
from .verify import VerifyError, verify  # noqa: F401,E402
from .visit import AccessSite, access_sites, children, index_error, walk, walk_body  # noqa: F401
