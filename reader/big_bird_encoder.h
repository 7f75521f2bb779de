// BigBird's question-answering head (BigBirdForQuestionAnswering), used by QaModel for model_type "big_bird".
// Private to reader/.
#pragma once
#include "layers.h"

namespace longqa::big_bird {

// qa_classifier.{intermediate.dense, output.dense, output.LayerNorm, qa_outputs}.
void add_qa_head(layers::Shapes& shapes, const ModelConfig& config);

// HF's question mask: q_len = (first position of sep_token_id) + 1 per row (1 when there is none);
// true on positions 1 .. q_len - 1 (the question and its [SEP]; never position 0). (B,n) bool.
at::Tensor question_mask(const at::Tensor& input_ids, int64_t sep_token_id);

// The input as BigBirdForQuestionAnswering sees it: without token types, 0 up to the first [SEP], 1 after.
EncoderInput with_question_types(const EncoderInput& input, int64_t sep_token_id);

// (B,n,2) start/end logits from the encoder's hidden states: the qa_classifier, then 1e6 subtracted on the
// question_mask positions (as HF does, so question tokens never win).
at::Tensor qa_logits(const NamedTensors& params, const ModelConfig& config, const at::Tensor& hidden,
                     const EncoderInput& input);

}  // namespace longqa::big_bird
