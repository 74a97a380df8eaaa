"""Stage 4: the attention U-Net (see musicsep/separators/unet.py and musicsep/train.py).

    python U-Net.py                     # score best_model.pth on the default tracks (museval + mir_eval SDR)
    python U-Net.py --root ~/musdb18    # on MUSDB18
    python U-Net.py train --synthetic data/synth --minutes 60   # retrain (see train --help)
"""

import sys

from musicsep.stages import stage_main


def train(argv):
    from musicsep.train import main

    return main(argv)


if __name__ == "__main__":
    sys.exit(stage_main("unet", __doc__, train=train,
                        variants={"unet": {}, "unet-nowiener": {"wiener_iterations": 0}}, with_mir_eval=True))
