// Generated from TrainConfig's properties: one flag per config key, each overriding the YAML file.
import ArgumentParser

struct ConfigFlags: ParsableArguments {
    @Option(name: .customLong("dataset"), help: "A known dataset (ml-100k, fetched into data_dir) or a directory holding NAME.inter [.user .item].") var dataset: String?
    @Option(name: .customLong("data-dir"), help: "Cache root for known datasets (default $TANDEM_DATA or ./data).") var dataDir: String?
    @Option(name: .customLong("train"), help: "Pre-split TSV/CSV files with user_id and item_id columns; when set, dataset and split are ignored.") var train: String?
    @Option(name: .customLong("valid"), help: "valid") var valid: String?
    @Option(name: .customLong("test"), help: "test") var test: String?
    @Option(name: .customLong("user-features"), help: "user features") var userFeatures: String?
    @Option(name: .customLong("item-features"), help: "item features") var itemFeatures: String?
    @Option(name: .customLong("split"), help: "random:0.8,0.1,0.1, temporal:0.8,0.1,0.1 or loo.") var split: String?
    @Option(name: .customLong("rating-threshold"), help: "Keep interactions rated at least this (nil: all interactions are positives).") var ratingThreshold: String?
    @Option(name: .customLong("user-core"), help: "user core") var userCore: String?
    @Option(name: .customLong("item-core"), help: "item core") var itemCore: String?
    @Option(name: .customLong("seed"), help: "Seeds the split, the initialisation and the batch order.") var seed: String?
    @Option(name: .customLong("split-seed"), help: "Seed of the split alone when different from seed (so several training seeds share one split).") var splitSeed: String?
    @Option(name: .customLong("model"), help: "model") var model: String?
    @Option(name: .customLong("embedding-dim"), help: "embedding dim") var embeddingDim: String?
    @Option(name: .customLong("hidden"), help: "Hidden layer sizes of each tower's MLP (two-tower).") var hidden: String?
    @Option(name: .customLong("field-dim"), help: "Embedding size of each side-feature field (two-tower).") var fieldDim: String?
    @Option(name: .customLong("use-features"), help: "Use side features when the dataset has them (two-tower).") var useFeatures: String?
    @Option(name: .customLong("dropout"), help: "dropout") var dropout: String?
    @Option(name: .customLong("similarity"), help: "similarity") var similarity: String?
    @Option(name: .customLong("temperature"), help: "temperature") var temperature: String?
    @Option(name: .customLong("loss"), help: "loss") var loss: String?
    @Option(name: .customLong("negatives"), help: "Sampled negatives per positive for bpr and bce.") var negatives: String?
    @Option(name: .customLong("logq"), help: "Subtract log(item sampling probability) from in-batch logits.") var logq: String?
    @Option(name: .customLong("mask-accidental-hits"), help: "mask accidental hits") var maskAccidentalHits: String?
    @Option(name: .customLong("optimizer"), help: "optimizer") var optimizer: String?
    @Option(name: .customLong("learning-rate"), help: "learning rate") var learningRate: String?
    @Option(name: .customLong("weight-decay"), help: "weight decay") var weightDecay: String?
    @Option(name: .customLong("batch-size"), help: "batch size") var batchSize: String?
    @Option(name: .customLong("epochs"), help: "epochs") var epochs: String?
    @Option(name: .customLong("eval-every"), help: "eval every") var evalEvery: String?
    @Option(name: .customLong("patience"), help: "Evaluations without improvement of valid_metric before stopping.") var patience: String?
    @Option(name: .customLong("valid-metric"), help: "valid metric") var validMetric: String?
    @Option(name: .customLong("ks"), help: "ks") var ks: String?
    @Option(name: .customLong("threads"), help: "Worker threads (BLAS and our kernels); nil uses every core.") var threads: String?
    @Option(name: .customLong("output"), help: "Model directory: best checkpoint (safetensors), resolved config and id maps.") var output: String?
    @Option(name: .customLong("results"), help: "Results JSON path.") var results: String?

    /// The flags given, keyed by config key (snake_case).
    var overrides: [String: String] {
        var o: [String: String] = [:]
        if let v = dataset { o["dataset"] = v }
        if let v = dataDir { o["data_dir"] = v }
        if let v = train { o["train"] = v }
        if let v = valid { o["valid"] = v }
        if let v = test { o["test"] = v }
        if let v = userFeatures { o["user_features"] = v }
        if let v = itemFeatures { o["item_features"] = v }
        if let v = split { o["split"] = v }
        if let v = ratingThreshold { o["rating_threshold"] = v }
        if let v = userCore { o["user_core"] = v }
        if let v = itemCore { o["item_core"] = v }
        if let v = seed { o["seed"] = v }
        if let v = splitSeed { o["split_seed"] = v }
        if let v = model { o["model"] = v }
        if let v = embeddingDim { o["embedding_dim"] = v }
        if let v = hidden { o["hidden"] = v }
        if let v = fieldDim { o["field_dim"] = v }
        if let v = useFeatures { o["use_features"] = v }
        if let v = dropout { o["dropout"] = v }
        if let v = similarity { o["similarity"] = v }
        if let v = temperature { o["temperature"] = v }
        if let v = loss { o["loss"] = v }
        if let v = negatives { o["negatives"] = v }
        if let v = logq { o["logq"] = v }
        if let v = maskAccidentalHits { o["mask_accidental_hits"] = v }
        if let v = optimizer { o["optimizer"] = v }
        if let v = learningRate { o["learning_rate"] = v }
        if let v = weightDecay { o["weight_decay"] = v }
        if let v = batchSize { o["batch_size"] = v }
        if let v = epochs { o["epochs"] = v }
        if let v = evalEvery { o["eval_every"] = v }
        if let v = patience { o["patience"] = v }
        if let v = validMetric { o["valid_metric"] = v }
        if let v = ks { o["ks"] = v }
        if let v = threads { o["threads"] = v }
        if let v = output { o["output"] = v }
        if let v = results { o["results"] = v }
        return o
    }
}
