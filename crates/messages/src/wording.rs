//! How errors and warnings are worded, in every language of the page, in one place: the CLI and
//! the tests read the English (`Display`), the page reads its own language. Each arm gives the
//! wordings side by side, so a new variant cannot ship in one language only (the match is
//! exhaustive) and a placeholder cannot name a value that does not exist (`format!` checks it).
use crate::error::{
    ConfigDamage, Damage, EngineError, GgufDamage, ModelFile, ModelWarning, Quantity,
    TokenizerDamage, WeightsDamage, Work,
};
use crate::Lang;

/// The English and the Chinese wording of one message, as `format!` strings.
macro_rules! say {
    ($lang:expr, $en:literal, $zh:literal $(,)?) => {
        match $lang {
            Lang::En => format!($en),
            Lang::Zh => format!($zh),
        }
    };
}

impl EngineError {
    /// The message in `lang`: what is wrong and what to do.
    pub fn words(&self, lang: Lang) -> String {
        use EngineError as E;
        match self {
            E::TextEmpty => say!(
                lang,
                "The text is empty: type a few words first.",
                "文本为空：请先输入几个词。"
            ),
            E::TextTooLong { tokens, max } => say!(
                lang,
                "The text has {tokens} tokens but this model reads at most {max}; shorten it.",
                "文本有 {tokens} 个词元，但这个模型最多读取 {max} 个；请缩短文本。"
            ),
            E::NoMask { mask } => say!(
                lang,
                "Input must include the mask token {mask}",
                "输入中必须包含掩码词元 {mask}"
            ),
            E::NoMaskInVocabulary => say!(
                lang,
                "tokenizer.json: this masked language model's vocabulary has no mask token",
                "tokenizer.json：这个掩码语言模型的词表里没有掩码词元"
            ),
            E::TokenOutOfVocabulary { id, vocab } => say!(
                lang,
                "token id {id} is outside the model's vocabulary of {vocab} tokens: the tokenizer \
                 does not belong to this model",
                "词元 id {id} 超出了模型 {vocab} 个词元的词表：分词器与这个模型不匹配"
            ),
            E::TargetOutOfVocabulary { id, vocab } => say!(
                lang,
                "target token id {id} is outside the vocabulary of {vocab} tokens",
                "目标词元 id {id} 超出了 {vocab} 个词元的词表"
            ),
            E::BadTemperature { temperature } => say!(
                lang,
                "temperature must be a positive number, not {temperature}",
                "温度必须是正数，而不是 {temperature}"
            ),
            E::BadSampling { top_k, top_p } => say!(
                lang,
                "top-k must be at least 1 and top-p in (0, 1], not {top_k} and {top_p}",
                "top-k 至少为 1，top-p 必须在 (0, 1] 之间，而不是 {top_k} 和 {top_p}"
            ),
            E::PositionOutOfRange { position, tokens } => say!(
                lang,
                "position {position} is past the end of the {tokens} tokens",
                "位置 {position} 超出了这 {tokens} 个词元的末尾"
            ),
            E::TooManyWatchedTokens { given, max } => say!(
                lang,
                "{given} watched tokens are too many: the rankings watch at most {max}",
                "要观察的词元太多（{given} 个）：排名图最多观察 {max} 个"
            ),
            E::TooLongForRankings { tokens, max } => say!(
                lang,
                "the rankings read at most {max} tokens and this text has {tokens}: shorten it \
                 to see them",
                "排名最多读取 {max} 个词元，而这段文本有 {tokens} 个：请缩短文本后再查看"
            ),
            E::BadFactorCount { factors, min, max } => say!(
                lang,
                "{factors} factors cannot be fitted: choose {min} to {max}",
                "无法拟合 {factors} 个因子：请选择 {min} 到 {max} 个"
            ),
            E::NoSuchHead {
                layer,
                head,
                layers,
                heads,
            } => {
                let missing = crate::HeadId {
                    layer: *layer,
                    head: *head,
                };
                say!(
                    lang,
                    "there is no head {missing} to switch off: this model has {layers} \
                     layers of {heads} heads (counted from 1)",
                    "没有可关闭的注意力头 {missing}：这个模型有 {layers} 层，每层 {heads} 个头\
                     （从 1 开始计数）"
                )
            }
            E::NoCausalMask { architecture } => say!(
                lang,
                "{architecture} reads the whole text both ways: it has no causal mask to switch off",
                "{architecture} 双向读取整段文本：它没有可关闭的因果掩码"
            ),
            E::LabHeadsOnly { architecture } => say!(
                lang,
                "{architecture} is an encoder–decoder: the lab switches its heads off, but the \
                 mask and padding demonstrations need a model that reads one text",
                "{architecture} 是编码器–解码器：实验室可以关闭它的注意力头，但掩码和填充演示需要\
                 只读取一段文本的模型"
            ),
            E::SecondTextTooLong { tokens, max } => say!(
                lang,
                "the second sentence has {tokens} tokens but this model reads at most {max}: \
                 shorten it to compare the two",
                "第二个句子有 {tokens} 个词元，但这个模型最多读取 {max} 个：请缩短它再比较"
            ),
            E::InductionNeedsDecoder { architecture } => say!(
                lang,
                "induction heads predict the next token from earlier ones: the detector needs a \
                 decoder such as GPT-2, and {architecture} is not one",
                "归纳头根据前面的词元预测下一个词元：检测器需要 GPT-2 这样的解码器，而 \
                 {architecture} 不是"
            ),
            E::InductionPeriod { period, max } => say!(
                lang,
                "a repeated sequence of {period} tokens does not fit this model twice: choose 2 \
                 to {max} tokens",
                "{period} 个词元的序列重复两次放不进这个模型：请选择 2 到 {max} 个词元"
            ),
            E::PaddingNeedsEncoder { architecture } => say!(
                lang,
                "the padding demo needs an encoder such as BERT or DistilBERT: {architecture} \
                 reads one text left to right and is not padded",
                "填充演示需要编码器（例如 BERT 或 DistilBERT）：{architecture} 从左到右读取一段文本，\
                 不做填充"
            ),
            E::PadShorterThanText { pad_to, tokens } => say!(
                lang,
                "the text already has {tokens} tokens: pad it to more than that, not to {pad_to}",
                "这段文本已有 {tokens} 个词元：请填充到比它更多的长度，而不是 {pad_to}"
            ),
            E::NoPaddingToken => say!(
                lang,
                "this tokenizer has no padding token, so the text cannot be padded",
                "这个分词器没有填充词元，因此无法填充文本"
            ),
            E::UnsupportedArchitecture { model_type, class } => say!(
                lang,
                "config.json: the model type `{model_type}` ({class}) is not supported; \
                 Attention Explorer runs GPT-2, DistilBERT, BERT, T5, BART and Marian \
                 checkpoints, and Llama-family models from a .gguf file",
                "config.json：不支持模型类型 `{model_type}`（{class}）；注意力探索器可运行 \
                 GPT-2、DistilBERT、BERT、T5、BART 和 Marian 检查点，以及 .gguf 文件中的 Llama \
                 系列模型"
            ),
            E::DamagedFile { file, damage } => {
                let damage = damage.words(*file, lang);
                let file = file.words(lang);
                say!(lang, "{file}: {damage}", "{file} 无法使用：{damage}")
            }
            E::CannotRead { path, reason } => {
                say!(
                    lang,
                    "cannot read {path}: {reason}",
                    "无法读取 {path}（{reason}）"
                )
            }
            E::NoPredictionHead { architecture } => say!(
                lang,
                "this model has no prediction head ({architecture} checkpoint): attention and \
                 hidden states work, but predictions and saliency need GPT-2, DistilBERT or BERT \
                 with its masked-LM head",
                "这个模型没有预测头（{architecture} 检查点）：注意力和隐藏状态可以查看，但预测和\
                 显著性需要 GPT-2、DistilBERT，或带掩码语言模型头的 BERT"
            ),
            E::NotEncoderDecoder { architecture } => say!(
                lang,
                "{architecture} reads one text: a source and a target (cross-attention, \
                 translation) need an encoder–decoder such as T5, BART or Marian",
                "{architecture} 只读取一段文本：源文本和目标文本（交叉注意力、翻译）需要 T5、BART \
                 或 Marian 这样的编码器–解码器"
            ),
            E::NeedsSource { architecture } => say!(
                lang,
                "{architecture} is an encoder–decoder: give it a source text to read and, if you \
                 like, the start of its target",
                "{architecture} 是编码器–解码器：请给它一段要读取的源文本，也可以再给出目标文本的开头"
            ),
            E::SourceTooLong { tokens, max } => say!(
                lang,
                "The source has {tokens} tokens but the encoder reads at most {max}; shorten it.",
                "源文本有 {tokens} 个词元，但编码器最多读取 {max} 个；请缩短源文本。"
            ),
            E::TargetTooLong { tokens, max } => say!(
                lang,
                "The target has {tokens} tokens (with the start token) but the decoder reads at \
                 most {max}; shorten it.",
                "目标文本有 {tokens} 个词元（含起始词元），但解码器最多读取 {max} 个；请缩短目标文本。"
            ),
            E::BadBeamWidth { width, max } => say!(
                lang,
                "beam search keeps 1 to {max} beams, not {width}",
                "束搜索保留 1 到 {max} 个束，而不是 {width} 个"
            ),
            E::NoModel => say!(
                lang,
                "No model is loaded yet: pick one first.",
                "还没有加载模型：请先选择一个。"
            ),
            E::OutOfMemory {
                work,
                tokens,
                gigabytes,
                longest,
            } => out_of_memory(lang, *work, *tokens, *gigabytes, *longest),
            E::TraceGone => say!(
                lang,
                "that trace is no longer in the worker: trace the text again",
                "这次追踪已不在工作线程中：请重新追踪文本"
            ),
            E::LayerOutOfRange { layer, layers } => {
                let layer = layer + 1;
                say!(
                    lang,
                    "layer {layer} does not exist: the model has {layers} layers",
                    "第 {layer} 层不存在：这个模型有 {layers} 层"
                )
            }
            E::ViewOutOfRange {
                positions,
                d_model: Some(d_model),
                max_positions,
                max_width,
            } => say!(
                lang,
                "positions must be 1–{max_positions} and d_model 2–{max_width}, not {positions} \
                 and {d_model}",
                "位置数必须在 1–{max_positions} 之间、d_model 必须在 2–{max_width} 之间，而不是 \
                 {positions} 和 {d_model}"
            ),
            E::ViewOutOfRange {
                positions,
                d_model: None,
                max_positions,
                ..
            } => say!(
                lang,
                "positions must be 1–{max_positions}, not {positions}",
                "位置数必须在 1–{max_positions} 之间，而不是 {positions}"
            ),
            E::NoRotaryView => say!(
                lang,
                "this model adds position embeddings; it has no rotary view",
                "这个模型使用加到输入上的位置嵌入，没有旋转位置编码视图"
            ),
            E::BadRequest { what } => say!(lang, "{what}", "工作线程无法使用这个请求：{what}"),
            E::Compute { message } => say!(
                lang,
                "internal computation error: {message}",
                "内部计算错误（{message}）"
            ),
        }
    }
}

fn out_of_memory(lang: Lang, work: Work, tokens: usize, gigabytes: f64, longest: usize) -> String {
    match work {
        Work::Trace => say!(
            lang,
            "A trace over {tokens} tokens would need about {gigabytes:.1} GB of memory for the \
             attention alone, more than the 4 GB a browser gives this page's model. Shorten the \
             text to at most {longest} tokens.",
            "对 {tokens} 个词元做追踪，仅注意力就需要约 {gigabytes:.1} GB 内存，超过了浏览器给这个\
             页面模型的 4 GB。请把文本缩短到最多 {longest} 个词元。"
        ),
        Work::Saliency => say!(
            lang,
            "Saliency over {tokens} tokens would need about {gigabytes:.1} GB of memory for the \
             attention alone, more than the 4 GB a browser gives this page's model. Shorten the \
             text to at most {longest} tokens.",
            "对 {tokens} 个词元计算显著性，仅注意力就需要约 {gigabytes:.1} GB 内存，超过了浏览器给\
             这个页面模型的 4 GB。请把文本缩短到最多 {longest} 个词元。"
        ),
    }
}

impl ModelFile {
    /// The file's name, as a message names it.
    pub fn words(self, lang: Lang) -> String {
        match self {
            ModelFile::Config => "config.json".into(),
            ModelFile::Tokenizer => "tokenizer.json".into(),
            ModelFile::TargetTokenizer => crate::TARGET_TOKENIZER_FILE.into(),
            ModelFile::Weights => "model.safetensors".into(),
            ModelFile::Gguf => say!(lang, "the .gguf file", ".gguf 文件"),
        }
    }
}

impl Quantity {
    fn words(self, lang: Lang) -> String {
        match self {
            Quantity::Layers => say!(lang, "number of layers", "层数"),
            Quantity::Heads => say!(lang, "number of heads", "头数"),
            Quantity::KeyValueHeads => say!(lang, "number of key/value heads", "键/值头数"),
            Quantity::Width => say!(lang, "model width", "模型宽度"),
            Quantity::MlpWidth => say!(lang, "MLP width", "MLP 宽度"),
            Quantity::Vocabulary => say!(lang, "vocabulary size", "词表大小"),
            Quantity::Positions => say!(lang, "number of positions", "位置数"),
        }
    }
}

impl Damage {
    /// What is wrong with `file`, in `lang`.
    pub fn words(&self, file: ModelFile, lang: Lang) -> String {
        match self {
            Damage::Config(damage) => damage.words(lang),
            // A .gguf file holds the tokenizer among other things: say which part is wrong.
            Damage::Tokenizer(damage) if file == ModelFile::Gguf => {
                let damage = damage.words(lang);
                say!(lang, "its tokenizer: {damage}", "其中的分词器：{damage}")
            }
            Damage::Tokenizer(damage) => damage.words(lang),
            Damage::Weights(damage) => damage.words(file, lang),
            Damage::Gguf(damage) => damage.words(lang),
        }
    }
}

impl GgufDamage {
    fn words(&self, lang: Lang) -> String {
        let what = match self {
            GgufDamage::Unreadable { detail } => {
                say!(lang, "it cannot be read ({detail})", "无法读取（{detail}）")
            }
            GgufDamage::ImpossibleShape { tensor, shape } => say!(
                lang,
                "the tensor `{tensor}` claims the impossible shape {shape:?}",
                "张量 `{tensor}` 声称有不可能的形状 {shape:?}"
            ),
            GgufDamage::TensorUnreadable { tensor, detail } => say!(
                lang,
                "the tensor `{tensor}` cannot be read ({detail})",
                "无法读取张量 `{tensor}`（{detail}）"
            ),
        };
        say!(
            lang,
            "{what}. Download it again, or check that it is a complete GGUF model file.",
            "{what}。请重新下载，或检查它是否是完整的 GGUF 模型文件。"
        )
    }
}

impl ConfigDamage {
    fn words(&self, lang: Lang) -> String {
        use ConfigDamage as D;
        match self {
            D::NotJson { detail } => say!(
                lang,
                "not valid JSON ({detail}); is this the model's config.json?",
                "不是有效的 JSON（{detail}）；这是模型的 config.json 吗？"
            ),
            D::LlamaNeedsGguf => say!(
                lang,
                "Llama models are read from a single .gguf file, not config.json + \
                 model.safetensors; choose the .gguf file",
                "Llama 模型从单个 .gguf 文件读取，而不是 config.json + model.safetensors；请选择 \
                 .gguf 文件"
            ),
            D::ZeroSize { quantity } => {
                let quantity = quantity.words(lang);
                say!(lang, "the {quantity} is 0", "{quantity}为 0")
            }
            D::WidthNotDivisible { width, heads } => say!(
                lang,
                "the model width {width} is not divisible by the {heads} heads",
                "模型宽度 {width} 不能被 {heads} 个头整除"
            ),
            D::HeadsNotShared { heads, kv_heads } => say!(
                lang,
                "the {heads} query heads cannot share the {kv_heads} key/value heads evenly",
                "{heads} 个查询头无法平均共享 {kv_heads} 个键/值头"
            ),
            D::MissingField { names } => {
                let names = names.join("` or `");
                say!(lang, "the field `{names}` is missing", "缺少字段 `{names}`")
            }
            D::NoMetadataEntry { key } => say!(
                lang,
                "its metadata has no `{key}` entry",
                "它的元数据中没有 `{key}` 条目"
            ),
            D::NotLlama { architecture } => say!(
                lang,
                "the .gguf file holds a `{architecture}` model; Attention Explorer reads \
                 Llama-family GGUF files (SmolLM2, TinyLlama …)",
                "这个 .gguf 文件中是 `{architecture}` 模型；注意力探索器读取 Llama 系列的 GGUF 文件\
                 （SmolLM2、TinyLlama …）"
            ),
            D::UnsupportedActivation { name } => say!(
                lang,
                "the activation function `{name}` is not supported (use gelu, gelu_new or relu)",
                "不支持激活函数 `{name}`（请使用 gelu、gelu_new 或 relu）"
            ),
            D::NotWholeNumber { name, value } => {
                field_type(lang, name, ("a whole number", "整数"), value)
            }
            D::NotNumber { name, value } => field_type(lang, name, ("a number", "数字"), value),
            D::NotText { name, value } => field_type(lang, name, ("text", "文本"), value),
            D::NotTrueOrFalse { name, value } => {
                field_type(lang, name, ("true or false", "true 或 false"), value)
            }
            D::NotList { name } => field_type(lang, name, ("a list", "列表"), &None),
            D::NotListOfText { name } => {
                field_type(lang, name, ("a list of strings", "字符串列表"), &None)
            }
            D::NotListOfIntegers { name } => {
                field_type(lang, name, ("a list of integers", "整数列表"), &None)
            }
        }
    }
}

/// A field of the wrong type: what it should be (in English and Chinese), and what it holds
/// when that can be shown.
fn field_type(lang: Lang, name: &str, (en, zh): (&str, &str), value: &Option<String>) -> String {
    let not = match value {
        Some(value) => say!(lang, ", not {value}", "，而不是 {value}"),
        None => String::new(),
    };
    say!(
        lang,
        "`{name}` should be {en}{not}",
        "`{name}` 应为{zh}{not}"
    )
}

impl TokenizerDamage {
    fn words(&self, lang: Lang) -> String {
        use TokenizerDamage as D;
        match self {
            D::NotJson { detail } => say!(
                lang,
                "not valid JSON ({detail}); use the file that came with the model",
                "不是有效的 JSON（{detail}）；请使用模型自带的这个文件"
            ),
            D::Unreadable { detail } => say!(
                lang,
                "cannot read it ({detail}); use the file that came with the model",
                "无法读取（{detail}）；请使用模型自带的这个文件"
            ),
            D::EncoderNotMap { detail } => say!(
                lang,
                "encoder.json is not a token → id map ({detail})",
                "encoder.json 不是“词元 → id”的映射（{detail}）"
            ),
            D::MergesNotText => say!(
                lang,
                "vocab.bpe is not UTF-8 text",
                "vocab.bpe 不是 UTF-8 文本"
            ),
            D::BadMergeLine { line } => say!(
                lang,
                "vocab.bpe has a bad merge line `{line}`",
                "vocab.bpe 中有一行错误的合并规则 `{line}`"
            ),
            D::BpeNotBuilt { detail } => say!(
                lang,
                "cannot build GPT-2's BPE ({detail})",
                "无法构建 GPT-2 的 BPE（{detail}）"
            ),
            D::TruncationStuck { detail } => say!(
                lang,
                "cannot switch truncation off ({detail})",
                "无法关闭截断（{detail}）"
            ),
            D::CannotTokenize { detail } => say!(
                lang,
                "cannot tokenize this text ({detail})",
                "无法对这段文本分词（{detail}）"
            ),
            D::CannotDecode { detail } => say!(
                lang,
                "cannot decode these ids ({detail})",
                "无法解码这些 id（{detail}）"
            ),
            D::UndefinedSpecialToken { token } => say!(
                lang,
                "its post-processor template uses the special token `{token}`, which it does not \
                 define (with matching ids and tokens); use the file that came with the model",
                "它的后处理模板使用了特殊词元 `{token}`，但文件中没有定义它（或其 id 与词元不\
                 对应）；请使用模型自带的这个文件"
            ),
            D::LargerThanEmbeddings { tokens, rows } => say!(
                lang,
                "it has {tokens} tokens but the model's embedding has only {rows} rows: the \
                 tokenizer belongs to a different model",
                "它有 {tokens} 个词元，但模型的嵌入只有 {rows} 行：分词器属于另一个模型"
            ),
            D::UnsupportedGgufKind { model } => say!(
                lang,
                "the .gguf file's tokenizer is `{model}`; only byte-level BPE (`gpt2`, as in \
                 SmolLM2) is supported so far",
                "这个 .gguf 文件的分词器是 `{model}`；目前只支持字节级 BPE（`gpt2`，如 SmolLM2）"
            ),
        }
    }
}

impl WeightsDamage {
    fn words(&self, file: ModelFile, lang: Lang) -> String {
        use WeightsDamage as D;
        match self {
            D::TooShort { bytes } => say!(
                lang,
                "the file has only {bytes} bytes: it is empty or cut off; download it again",
                "文件只有 {bytes} 个字节：它是空的或不完整；请重新下载"
            ),
            D::ImplausibleHeader { bytes } => say!(
                lang,
                "the file claims a {bytes}-byte header, which no real checkpoint has: it is \
                 damaged or not a .safetensors file",
                "文件声称有 {bytes} 字节的文件头，真实的检查点不会这样：文件已损坏，或不是 \
                 .safetensors 文件"
            ),
            D::HeaderCutOff { bytes, available } => say!(
                lang,
                "the header should be {bytes} bytes but the file has only {available} after the \
                 length field: the file is cut off; download it again",
                "文件头应有 {bytes} 字节，但长度字段之后只有 {available} 字节：文件不完整；请重新\
                 下载"
            ),
            D::HeaderUnreadable => say!(
                lang,
                "the header cannot be read: the file is cut off",
                "无法读取文件头：文件不完整"
            ),
            D::HeaderNotObject => say!(
                lang,
                "the header is not a JSON object: the file is damaged or not a .safetensors file",
                "文件头不是 JSON 对象：文件已损坏，或不是 .safetensors 文件"
            ),
            D::UnknownDataType { tensor, dtype } => say!(
                lang,
                "the tensor `{tensor}` has the data type `{dtype}`, which Attention Explorer \
                 cannot read (it reads F32, F16 and BF16 weights)",
                "张量 `{tensor}` 的数据类型是 `{dtype}`，注意力探索器无法读取（它读取 F32、F16 \
                 和 BF16 权重）"
            ),
            D::TensorPastEnd { tensor, end, data } => say!(
                lang,
                "the tensor `{tensor}` ends at byte {end} of the data but the file holds only \
                 {data}: the file is cut off; download it again",
                "张量 `{tensor}` 在数据的第 {end} 字节结束，但文件只有 {data} 字节数据：文件不\
                 完整；请重新下载"
            ),
            D::DataCutOff { described, data } => say!(
                lang,
                "the header describes {described} bytes of tensor data but the file holds \
                 {data}: the file is damaged or cut off; download it again",
                "文件头描述了 {described} 字节的张量数据，但文件只有 {data} 字节：文件已损坏或不\
                 完整；请重新下载"
            ),
            D::NoDataOffsets { tensor } => say!(
                lang,
                "the tensor `{tensor}` has no valid `data_offsets`: the file is damaged",
                "张量 `{tensor}` 没有有效的 `data_offsets`：文件已损坏"
            ),
            D::NotSafetensors { detail } => say!(
                lang,
                "cannot read the file ({detail}); is it a complete .safetensors file?",
                "无法读取文件（{detail}）；它是完整的 .safetensors 文件吗？"
            ),
            D::TensorCutOff { tensor } => say!(
                lang,
                "the tensor `{tensor}` cannot be read: the file is cut off; download it again",
                "无法读取张量 `{tensor}`：文件不完整；请重新下载"
            ),
            D::IsGguf => say!(
                lang,
                "this is a GGUF file (llama.cpp's format), not .safetensors; pick the \
                 repository's model.safetensors",
                "这是 GGUF 文件（llama.cpp 的格式），不是 .safetensors；请选择仓库中的 \
                 model.safetensors"
            ),
            D::IsPickle => say!(
                lang,
                "this is a PyTorch .bin checkpoint (a pickle), not .safetensors; pick the \
                 repository's model.safetensors, or convert the .bin with the `safetensors` \
                 Python package",
                "这是 PyTorch 的 .bin 检查点（pickle），不是 .safetensors；请选择仓库中的 \
                 model.safetensors，或用 Python 的 `safetensors` 包转换这个 .bin 文件"
            ),
            D::MissingTensor { tensor } => mismatch(
                lang,
                file,
                say!(
                    lang,
                    "the tensor `{tensor}` is missing",
                    "缺少张量 `{tensor}`"
                ),
            ),
            D::WrongShape {
                tensor,
                expected,
                found,
            } => mismatch(
                lang,
                file,
                say!(
                    lang,
                    "the tensor `{tensor}` has the wrong shape: expected shape {expected:?}, \
                     found {found:?}",
                    "张量 `{tensor}` 的形状不对：应为 {expected:?}，实际为 {found:?}"
                ),
            ),
            D::Unusable { detail } => mismatch(
                lang,
                file,
                say!(
                    lang,
                    "the model cannot be built from its tensors ({detail})",
                    "无法用这些张量构建模型（{detail}）"
                ),
            ),
            D::CannotWriteCopy { detail } => say!(
                lang,
                "cannot write the copy: {detail}",
                "无法写入副本（{detail}）"
            ),
        }
    }
}

/// Tensors that are present but do not fit the model. With a separate config.json the likely
/// cause is a config from another checkpoint, so the message says to check that.
fn mismatch(lang: Lang, file: ModelFile, what: String) -> String {
    match file {
        ModelFile::Weights => say!(
            lang,
            "{what}. Check that config.json and model.safetensors come from the same checkpoint.",
            "{what}。请检查 config.json 和 model.safetensors 是否来自同一个检查点。"
        ),
        _ => what,
    }
}

impl ModelWarning {
    /// The warning in `lang`.
    pub fn words(&self, lang: Lang) -> String {
        match self {
            ModelWarning::NonFinite { tensors } => {
                let count = tensors.len();
                let listed = tensors
                    .iter()
                    .take(3)
                    .map(|(name, values)| format!("`{name}` ({values})"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let more = count.saturating_sub(3);
                let more = match more {
                    0 => String::new(),
                    more => say!(lang, " and {more} more", " 等另外 {more} 个"),
                };
                say!(
                    lang,
                    "model.safetensors: {count} tensor(s) hold NaN or infinite values: \
                     {listed}{more}. The model runs, but numbers that depend on them will be NaN; \
                     the checkpoint is probably damaged.",
                    "model.safetensors：{count} 个张量含有 NaN 或无穷大的值：{listed}{more}。模型\
                     可以运行，但依赖这些值的数字会是 NaN；检查点可能已损坏。"
                )
            }
        }
    }
}
