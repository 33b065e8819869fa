"""Training a face-crop classifier: the data (``datasets``), augmentation (``augment``), synthetic fakes
(``self_blend`` and ``self_blend_batches``, ``face_swap``, both on ``landmarks``), the networks
(``architectures``), the training loop (``train``) and what a run folder keeps to continue (``training_run``).

The names of the architectures and precisions live here, so that the command line can offer them without loading
Keras.
"""

ARCHITECTURES = (
    "compact",
    "compact_wide",
    "compact_deep",
    "compact_high_pass",
    "compact_local",
    "compact_lower",
    "compact_spectrum",
    "compact_two_view",
    "inception_resnet_v2",
    "vgg16",
    "resnet50",
)
# Keras dtype policies a run may use. "mixed_bfloat16" computes in bfloat16 and keeps float32 weights: measured
# 1.9 times faster a training step for VGG16 and 1.5-1.7 for ResNet50 on CPUs with AVX512_BF16, no gain
# for the compact networks or InceptionResNetV2 (bench/bench_architectures.py --precision, docs/DESIGN.md).
PRECISIONS = ("float32", "mixed_bfloat16")
