import ArgumentParser
import Foundation
import TandemData
import TandemModels
import TandemAutograd
import TandemTrain
import TandemIndex

// How settings types are read from the command line. `ConfigFlags.apply` sets the parsed values on a config as they
// are (a typed edit), after the YAML file's keys.

extension ModelKind: ExpressibleByArgument {}
extension Similarity: ExpressibleByArgument {}
extension LossKind: ExpressibleByArgument {}
extension Optimizer.Kind: ExpressibleByArgument {}
extension TowerSelection: ExpressibleByArgument {}
extension SSLSelection: ExpressibleByArgument {}
extension UserSSLViews: ExpressibleByArgument {}
extension FeatureAugmentation: ExpressibleByArgument {}
extension IALSSolver: ExpressibleByArgument {}
extension SparseEASEGram: ExpressibleByArgument {}
extension HardNegativeMining: ExpressibleByArgument {}
extension SGLAugmentation: ExpressibleByArgument {}
extension IndexMetric: ExpressibleByArgument {}
extension NegativeSampling: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension SplitMethod: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}

extension MetricAtK: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
    public static var allValueStrings: [String] { [] }
}

/// Comma-separated numbers (`10,20,50`; `[10, 20]` also reads): `IntList`, `DoubleList`.
struct NumberList<Number: LosslessStringConvertible>: ExpressibleByArgument {
    var values: [Number]
    init?(argument: String) {
        let inner = argument.trimmingCharacters(in: CharacterSet(charactersIn: "[] "))
        let parts = inner.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        let numbers = parts.compactMap { Number($0) }
        guard inner.isEmpty || numbers.count == parts.count else { return nil }
        values = inner.isEmpty ? [] : numbers
    }
}

typealias IntList = NumberList<Int>
typealias DoubleList = NumberList<Double>

/// A comma-separated list of model names (`--models mf,ease`), each checked against the registered kinds.
struct ModelList {
    let kinds: [ModelKind]
    init(_ kinds: [ModelKind]) { self.kinds = kinds }

    /// The flag's value, or an error naming the first unknown model and the known ones.
    static func parse(_ argument: String) throws -> ModelList {
        let names = argument.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty else { throw ValidationError("--models needs at least one model") }
        return ModelList(try names.map { name in
            guard let kind = ModelKind(rawValue: name) else {
                throw ValidationError("model '\(name)' is not one of \(ModelKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return kind
        })
    }
}

/// A comma-separated list of positive cut-offs (`--ks 10,20`).
struct CutOffs: ExpressibleByArgument {
    let values: [Int]
    init(_ values: [Int]) { self.values = values }
    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        values = parts.map { $0! }
    }
    var defaultValueDescription: String { values.map(String.init).joined(separator: ",") }
}
