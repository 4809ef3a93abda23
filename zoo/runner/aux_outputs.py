"""Models with auxiliary outputs (GoogLeNet's side classifiers): train every output, use one.

An architecture whose model has several outputs declares ``loss_weights(params)``
(``{output name: weight}``). The runner wraps the model so that training adds each auxiliary
output's loss, times its weight, to the main loss, while metrics, validation loss,
prediction and the saved ``model.keras`` use only the first output, the classifier. So
callbacks and ``history.csv`` see the same names (``loss``, ``val_accuracy``) as for any model.
"""

from __future__ import annotations

from typing import Any

from zoo.errors import PluginContractError


def with_auxiliary_losses(model: Any, weights: dict[str, float], loss: Any, owner: str) -> Any:
    """The model, trainable with its auxiliary outputs weighted by ``weights``."""
    import keras

    names = [t._keras_history.operation.name for t in model.outputs]
    missing = [n for n in names if n not in weights]
    unknown = [n for n in weights if n not in names]
    if missing or unknown:
        raise PluginContractError(
            f"{owner} broke the contract: loss_weights must name each output "
            f"({', '.join(names)}); missing: {missing or 'none'}, unknown: {unknown or 'none'}"
        )
    main_weight = float(weights[names[0]])
    aux_weights = [float(weights[n]) for n in names[1:]]

    class AuxiliaryLossModel(keras.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            main, *aux = y_pred
            total = super().compute_loss(x, y, main, sample_weight, training=training)
            if main_weight != 1.0:
                total = total * main_weight
            if training:
                for w, out in zip(aux_weights, aux, strict=True):
                    total = total + w * keras.ops.mean(loss(y, out))
            return total

        def compute_metrics(self, x, y, y_pred, sample_weight=None):
            return super().compute_metrics(x, y, y_pred[0], sample_weight=sample_weight)

        def predict_step(self, data):
            return super().predict_step(data)[0]

    return AuxiliaryLossModel(inputs=model.inputs, outputs=model.outputs, name=model.name)


def inference_model(model: Any) -> Any:
    """The model to save, export and predict with: its first output only."""
    import keras

    if len(model.outputs) == 1:
        return model
    return keras.Model(model.inputs, model.outputs[0], name=model.name)
