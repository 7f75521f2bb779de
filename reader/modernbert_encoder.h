// ModernBERT's question-answering head (ModernBertForQuestionAnswering), used by QaModel for model_type
// "modernbert". Private to reader/.
#pragma once
#include "layers.h"

namespace longqa::modernbert {

// head.dense (+ bias if classifier_bias), head.norm (+ bias if norm_bias), classifier (hidden -> 2, with bias).
void add_qa_head(layers::Shapes& shapes, const ModelConfig& config);

// (B,n,2) start/end logits from the encoder's final (final_norm'd) hidden states.
at::Tensor qa_logits(const NamedTensors& params, const ModelConfig& config, const at::Tensor& hidden);

}  // namespace longqa::modernbert
