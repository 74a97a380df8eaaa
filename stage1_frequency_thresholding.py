"""Stage 1: frequency thresholding with Butterworth filters (see musicsep/separators/bandpass.py).

    python stage1_frequency_thresholding.py            # the default tracks
    python stage1_frequency_thresholding.py --root ~/musdb18 --tracks 5
"""

import sys

from musicsep.stages import stage_main

if __name__ == "__main__":
    sys.exit(stage_main("bandpass", __doc__))
