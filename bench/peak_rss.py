"""Run a command and report its peak memory, for bench/run: the child's ru_maxrss from
resource.getrusage(RUSAGE_CHILDREN), measured from this small process.

(Measured from bench/run itself, Linux would report at least bench/run's own peak: a child
created by fork or vfork keeps its parent's high-water mark across exec.)

Usage: python bench/peak_rss.py COMMAND [ARGS...]   -> last stderr line: "peak-rss-kb: N"
"""

import resource
import subprocess
import sys


def main() -> int:
    code = subprocess.call(sys.argv[1:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"peak-rss-kb: {peak}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
