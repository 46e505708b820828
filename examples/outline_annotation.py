"""Outline annotation (Polygon-RNN with a deep SCS decoder), as a short script.

The same steps as ``scs-keras train outline-annotation`` (which adds the
baselines, TensorBoard and every flag), written out for people who read code:

    python examples/outline_annotation.py [EPOCHS]
"""

import sys

from scs_keras.tasks.outline_annotation import baselines, data, export, models, training

# Fewer than ~60 epochs leave the decoder unable to close polygons (its IoU
# stays below the fixed square's, printed at the end).
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 60

# 1. Generated street scenes in the Cityscapes layout -> object crops and vertex tokens.
root, _ = data.generated_outline_data(train_images=48, test_images=16)
train_ds, test_ds, info = data.load_datasets(root, crop_size=64, max_vertices=16,
                                             batch_size=16)

# 2. Encoder + first-vertex head + a 4-layer deep SCS decoder, trained with STSGD
#    and teacher forcing.
model = models.build_model("scs", crop_size=64, max_vertices=16, depth=4, width=16, seed=0)
training.compile_outline_model(model, learning_rate=2e-3, truncation="stsgd")
model.fit(data.training_targets(train_ds), epochs=epochs, verbose=2)

# 3. Greedy decoding on the validation crops: IoU per class, and a SavedModel
#    mapping an image crop batch straight to polygons.
print(training.evaluate_outline_model(model, test_ds, crop_size=64))
print("fixed square:", training.evaluate_outline_model(baselines.ContextSquare(64), test_ds,
                                                       crop_size=64))
print("SavedModel:", export.export_outline_model(model))
