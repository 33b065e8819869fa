"""Training a face-crop classifier: the data (``datasets``), augmentation (``augment``), synthetic fakes
(``self_blend`` and ``self_blend_batches``, ``face_swap``, both on ``landmarks``), the networks
(``architectures``), the training loop (``train``) and what a run folder keeps to continue (``training_run``).

The names of the architectures and precisions live here, so that the command line can offer them without loading
Keras.
"""

ARCHITECTURES = ("compact", "compact_wide", "compact_high_pass", "inception_resnet_v2", "vgg16", "resnet50")
PRECISIONS = ("float32", "mixed_bfloat16")
