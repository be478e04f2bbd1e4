//===- Loader.cpp - ModelProto to gradlint IR -----------------------------===//
//
// The only translation unit that includes onnx-ml.pb.h. Protobuf messages and
// exceptions end here: what leaves is the IR or an llvm::Error.
//
//===----------------------------------------------------------------------===//
#include "gradlint/Loader/Loader.h"
#include "gradlint/Support/Error.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <climits>
#include <cstring>

using namespace gradlint;

namespace {

/// Reads a file into memory (mmap for large files), with clear messages for
/// the ways a path can be wrong.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
openFile(llvm::StringRef Path, uint64_t MaxBytes, llvm::StringRef What) {
  llvm::sys::fs::file_status Status;
  if (std::error_code EC = llvm::sys::fs::status(Path, Status))
    return fileError(Path, "cannot open " + What + ": " + EC.message());
  if (Status.type() == llvm::sys::fs::file_type::directory_file)
    return fileError(Path, "is a directory, not " + What);
  if (Status.type() != llvm::sys::fs::file_type::regular_file)
    return fileError(Path, "is not a regular file");
  if (Status.getSize() == 0)
    return fileError(Path, "is empty");
  if (Status.getSize() > MaxBytes)
    return fileError(Path, "is " + llvm::Twine(Status.getSize()) +
                               " bytes, over protobuf's 2 GiB message limit; "
                               "store large initializers as external data");
  auto Buf = llvm::MemoryBuffer::getFile(Path, /*IsText=*/false,
                                         /*RequiresNullTerminator=*/false);
  if (!Buf)
    return fileError(Path, "cannot read " + What + ": " +
                               Buf.getError().message());
  return std::move(*Buf);
}

/// Parses a protobuf message from bytes, with protobuf's own logging silenced.
template <typename Message>
bool parseMessage(llvm::StringRef Bytes, Message &M) {
  google::protobuf::LogSilencer Silence;
  google::protobuf::io::ArrayInputStream Raw(Bytes.data(),
                                             static_cast<int>(Bytes.size()));
  google::protobuf::io::CodedInputStream In(&Raw);
  In.SetTotalBytesLimit(INT_MAX);
  In.SetRecursionLimit(100);
  return M.ParseFromCodedStream(&In) && In.ConsumedEntireMessage();
}

/// State shared while converting one file.
class Converter {
public:
  Converter(llvm::StringRef Path, const LoadLimits &Limits, Model *M)
      : Path(Path), Limits(Limits), M(M) {
    ModelDir = llvm::sys::path::parent_path(Path).str();
  }

  llvm::Expected<TensorData> convertTensor(const onnx::TensorProto &T,
                                           llvm::StringRef What);
  llvm::Error convertGraph(const onnx::GraphProto &G);
  llvm::Error checkSubgraphs(const onnx::GraphProto &G, unsigned Depth);

  /// Keeps an owned byte buffer alive for as long as the model.
  llvm::ArrayRef<uint8_t> keep(std::vector<uint8_t> Bytes) {
    auto Owner = std::make_shared<std::vector<uint8_t>>(std::move(Bytes));
    llvm::ArrayRef<uint8_t> View(*Owner);
    Storage.push_back(Owner);
    return View;
  }

  std::vector<std::shared_ptr<const void>> Storage;
  uint64_t ExternalBytes = 0;

private:
  llvm::Expected<llvm::ArrayRef<uint8_t>>
  readExternal(const onnx::TensorProto &T, llvm::StringRef What,
               uint64_t Need);
  llvm::Error convertValueInfo(const onnx::ValueInfoProto &VI, ValueId V,
                               llvm::StringRef What);
  llvm::Error convertNode(const onnx::NodeProto &N, size_t Index);
  llvm::Error checkArity(const onnx::NodeProto &NP, const Node &N);

  std::string Path;
  std::string ModelDir;
  const LoadLimits &Limits;
  Model *M;
  llvm::StringMap<std::shared_ptr<llvm::MemoryBuffer>> ExternalFiles;
};

} // namespace

/// Copies typed-field elements into raw little-endian layout.
template <typename Src, typename Dst>
static std::vector<uint8_t> packAs(const google::protobuf::RepeatedField<Src> &F) {
  std::vector<uint8_t> Out(F.size() * sizeof(Dst));
  for (int I = 0; I != F.size(); ++I) {
    Dst V = static_cast<Dst>(F.Get(I));
    std::memcpy(Out.data() + I * sizeof(Dst), &V, sizeof(Dst));
  }
  return Out;
}

llvm::Expected<llvm::ArrayRef<uint8_t>>
Converter::readExternal(const onnx::TensorProto &T, llvm::StringRef What,
                        uint64_t Need) {
  std::string Location;
  uint64_t Offset = 0;
  bool HasLength = false;
  uint64_t Length = 0;
  for (const auto &KV : T.external_data()) {
    if (KV.key() == "location") {
      Location = KV.value();
    } else if (KV.key() == "offset" || KV.key() == "length") {
      uint64_t N;
      if (llvm::StringRef(KV.value()).getAsInteger(10, N))
        return fileError(Path, What + ": external data " + KV.key() + " '" +
                                   KV.value() + "' is not a number");
      if (KV.key() == "offset")
        Offset = N;
      else {
        Length = N;
        HasLength = true;
      }
    }
  }
  auto Real = resolveExternalPath(ModelDir, Location);
  if (!Real)
    return fileError(Path, What + ": " + llvm::toString(Real.takeError()));
  auto &File = ExternalFiles[*Real];
  if (!File) {
    auto Buf = llvm::MemoryBuffer::getFile(*Real, /*IsText=*/false,
                                           /*RequiresNullTerminator=*/false);
    if (!Buf)
      return fileError(Path, What + ": cannot read external data '" +
                                 Location + "': " + Buf.getError().message());
    File = std::move(*Buf);
    Storage.push_back(File);
  }
  uint64_t Size = File->getBufferSize();
  if (!HasLength)
    Length = Offset <= Size ? Size - Offset : 0;
  if (Offset > Size || Length > Size - Offset)
    return fileError(Path, What + ": external data '" + Location +
                               "' claims bytes [" + llvm::Twine(Offset) + ", " +
                               llvm::Twine(Offset + Length) +
                               ") but the file has " + llvm::Twine(Size));
  if (Length != Need)
    return fileError(Path, What + ": external data holds " +
                               llvm::Twine(Length) + " bytes but its type and "
                               "dims need " + llvm::Twine(Need));
  ExternalBytes += Length;
  return llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>(File->getBufferStart()) + Offset,
      Length);
}

llvm::Expected<TensorData> Converter::convertTensor(const onnx::TensorProto &T,
                                                    llvm::StringRef What) {
  TensorData Out;
  Out.Name = T.name();
  if (!isValidDataType(T.data_type()))
    return fileError(Path, What + " has invalid data_type " +
                               llvm::Twine(T.data_type()));
  Out.Type = static_cast<DataType>(T.data_type());
  if (static_cast<unsigned>(T.dims_size()) > Limits.MaxRank)
    return fileError(Path, What + " has rank " + llvm::Twine(T.dims_size()) +
                               ", over the limit of " +
                               llvm::Twine(Limits.MaxRank));
  for (int64_t D : T.dims()) {
    if (D < 0)
      return fileError(Path, What + " has negative dimension " +
                                 llvm::Twine(D));
    Out.Shape.push_back(D);
  }
  if (!numElements(Out.Shape, Out.NumElements) ||
      Out.NumElements > Limits.MaxTensorElements)
    return fileError(Path, What + " claims more than " +
                               llvm::Twine(Limits.MaxTensorElements) +
                               " elements");
  if (T.has_segment())
    return fileError(Path, What + " is segmented, which gradlint does not read");

  if (Out.Type == DataType::String) {
    if (static_cast<uint64_t>(T.string_data_size()) != Out.NumElements)
      return fileError(Path, What + " has " + llvm::Twine(T.string_data_size()) +
                                 " strings but its dims need " +
                                 llvm::Twine(Out.NumElements));
    return Out;
  }
  uint64_t Need;
  if (!storageBytes(Out.Type, Out.NumElements, Need))
    return fileError(Path, What + " is too large to address");

  if (T.data_location() == onnx::TensorProto::EXTERNAL) {
    auto Bytes = readExternal(T, What, Need);
    if (!Bytes)
      return Bytes.takeError();
    Out.Bytes = *Bytes;
    Out.External = true;
    return Out;
  }
  if (T.has_raw_data()) {
    const std::string &Raw = T.raw_data();
    if (Raw.size() != Need)
      return fileError(Path, What + " has " + llvm::Twine(Out.NumElements) +
                                 " " + dataTypeName(Out.Type) +
                                 " elements by its dims, which need " +
                                 llvm::Twine(Need) + " bytes, but raw_data holds " +
                                 llvm::Twine(Raw.size()));
    Out.Bytes = llvm::ArrayRef<uint8_t>(
        reinterpret_cast<const uint8_t *>(Raw.data()), Raw.size());
    return Out;
  }

  // Typed fields: check the count, then pack into raw layout.
  auto countError = [&](uint64_t Have, uint64_t Want) {
    return fileError(Path, What + " has " + llvm::Twine(Have) +
                               " values in its typed field but its dims need " +
                               llvm::Twine(Want));
  };
  uint64_t N = Out.NumElements;
  std::vector<uint8_t> Packed;
  switch (Out.Type) {
  case DataType::Float:
    if (uint64_t(T.float_data_size()) != N) return countError(T.float_data_size(), N);
    Packed = packAs<float, float>(T.float_data());
    break;
  case DataType::Complex64:
    if (uint64_t(T.float_data_size()) != 2 * N) return countError(T.float_data_size(), 2 * N);
    Packed = packAs<float, float>(T.float_data());
    break;
  case DataType::Double:
    if (uint64_t(T.double_data_size()) != N) return countError(T.double_data_size(), N);
    Packed = packAs<double, double>(T.double_data());
    break;
  case DataType::Complex128:
    if (uint64_t(T.double_data_size()) != 2 * N) return countError(T.double_data_size(), 2 * N);
    Packed = packAs<double, double>(T.double_data());
    break;
  case DataType::Int64:
    if (uint64_t(T.int64_data_size()) != N) return countError(T.int64_data_size(), N);
    Packed = packAs<int64_t, int64_t>(T.int64_data());
    break;
  case DataType::UInt32:
    if (uint64_t(T.uint64_data_size()) != N) return countError(T.uint64_data_size(), N);
    Packed = packAs<uint64_t, uint32_t>(T.uint64_data());
    break;
  case DataType::UInt64:
    if (uint64_t(T.uint64_data_size()) != N) return countError(T.uint64_data_size(), N);
    Packed = packAs<uint64_t, uint64_t>(T.uint64_data());
    break;
  case DataType::Int32:
    if (uint64_t(T.int32_data_size()) != N) return countError(T.int32_data_size(), N);
    Packed = packAs<int32_t, int32_t>(T.int32_data());
    break;
  case DataType::Int16:
  case DataType::UInt16:
  case DataType::Float16:
  case DataType::BFloat16:
    if (uint64_t(T.int32_data_size()) != N) return countError(T.int32_data_size(), N);
    Packed = packAs<int32_t, uint16_t>(T.int32_data());
    break;
  case DataType::Int8:
  case DataType::UInt8:
  case DataType::Bool:
  case DataType::Float8E4M3FN:
  case DataType::Float8E4M3FNUZ:
  case DataType::Float8E5M2:
  case DataType::Float8E5M2FNUZ:
  case DataType::Float8E8M0:
    if (uint64_t(T.int32_data_size()) != N) return countError(T.int32_data_size(), N);
    Packed = packAs<int32_t, uint8_t>(T.int32_data());
    break;
  case DataType::UInt4:
  case DataType::Int4:
  case DataType::Float4E2M1:
  case DataType::UInt2:
  case DataType::Int2: {
    // Sub-byte types: int32_data holds the packed bytes, one per entry.
    if (uint64_t(T.int32_data_size()) != Need) return countError(T.int32_data_size(), Need);
    Packed = packAs<int32_t, uint8_t>(T.int32_data());
    break;
  }
  case DataType::Undefined:
  case DataType::String:
    return fileError(Path, What + " has no numeric data type");
  }
  Out.Bytes = keep(std::move(Packed));
  return Out;
}

llvm::Error Converter::convertValueInfo(const onnx::ValueInfoProto &VI,
                                        ValueId Id, llvm::StringRef What) {
  Value &V = M->G.Values[Id];
  if (!VI.has_type())
    return llvm::Error::success();
  if (!VI.type().has_tensor_type()) {
    const auto &Ty = VI.type();
    V.NonTensorKind = Ty.has_sequence_type()        ? "sequence"
                      : Ty.has_optional_type()      ? "optional"
                      : Ty.has_map_type()           ? "map"
                      : Ty.has_sparse_tensor_type() ? "sparse tensor"
                                                    : "non-tensor value";
    return llvm::Error::success();
  }
  const auto &TT = VI.type().tensor_type();
  if (TT.elem_type() != 0) {
    if (!isValidDataType(TT.elem_type()))
      return fileError(Path, What + " '" + VI.name() +
                                 "' has invalid elem_type " +
                                 llvm::Twine(TT.elem_type()));
    V.Type = static_cast<DataType>(TT.elem_type());
  }
  if (!TT.has_shape())
    return llvm::Error::success();
  if (static_cast<unsigned>(TT.shape().dim_size()) > Limits.MaxRank)
    return fileError(Path, What + " '" + VI.name() + "' has rank " +
                               llvm::Twine(TT.shape().dim_size()) +
                               ", over the limit of " + llvm::Twine(Limits.MaxRank));
  V.HasDeclaredShape = true;
  V.DeclaredShape.clear();
  for (const auto &D : TT.shape().dim()) {
    DimSpec S;
    if (D.has_dim_value()) {
      if (D.dim_value() < 0)
        return fileError(Path, What + " '" + VI.name() +
                                   "' has negative dimension " +
                                   llvm::Twine(D.dim_value()));
      S.Size = D.dim_value();
    } else if (D.has_dim_param()) {
      S.Symbol = D.dim_param();
    }
    V.DeclaredShape.push_back(std::move(S));
  }
  return llvm::Error::success();
}

llvm::Error Converter::checkSubgraphs(const onnx::GraphProto &G,
                                      unsigned Depth) {
  for (const auto &N : G.node())
    for (const auto &A : N.attribute()) {
      auto Visit = [&](const onnx::GraphProto &Sub) -> llvm::Error {
        if (Depth + 1 > Limits.MaxSubgraphDepth)
          return fileError(Path, "subgraphs nest deeper than " +
                                     llvm::Twine(Limits.MaxSubgraphDepth) +
                                     " levels (node '" + N.name() + "')");
        return checkSubgraphs(Sub, Depth + 1);
      };
      if (A.has_g())
        if (llvm::Error E = Visit(A.g()))
          return E;
      for (const auto &Sub : A.graphs())
        if (llvm::Error E = Visit(Sub))
          return E;
    }
  return llvm::Error::success();
}

/// Rules read a node's operands by position, so a node must have the inputs
/// and outputs its ONNX schema (at the node's opset) asks for, required ones
/// not left empty; a damaged file stops here, naming the node. Opsets newer
/// than the installed onnx knows (its schemas may have changed) and ops it
/// does not know are left to the rules.
llvm::Error Converter::checkArity(const onnx::NodeProto &NP, const Node &N) {
  static const int KnownOpset =
      onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map().at("").second;
  if (N.Opset > KnownOpset)
    return llvm::Error::success();
  const onnx::OpSchema *S = onnx::OpSchemaRegistry::Schema(NP.op_type(), N.Opset, "");
  if (!S)
    return llvm::Error::success();
  auto Range = [](int Min, int Max) {
    return Min == Max ? llvm::Twine(Min).str()
           : Max >= 1 << 30 ? (llvm::Twine(Min) + " or more").str()
                            : (llvm::Twine(Min) + " to " + llvm::Twine(Max)).str();
  };
  std::string Op = "node '" + N.Name + "' (" + N.OpType + ")";
  int In = NP.input_size();
  while (In > 0 && NP.input(In - 1).empty())
    --In; // trailing empty names: optional inputs not given
  if (In < S->min_input() || In > S->max_input())
    return fileError(Path, Op + " has " + llvm::Twine(In) + " input" + (In == 1 ? "" : "s") +
                               "; " + N.OpType + " (opset " + llvm::Twine(N.Opset) +
                               ") takes " + Range(S->min_input(), S->max_input()));
  const auto &Formal = S->inputs();
  for (int I = 0; I < In && !Formal.empty(); ++I) {
    const auto &F = Formal[std::min<size_t>(I, Formal.size() - 1)];
    if (NP.input(I).empty() && F.GetOption() != onnx::OpSchema::Optional)
      return fileError(Path, Op + ": required input " + llvm::Twine(I) + " ('" +
                                 F.GetName() + "') is empty");
  }
  int Out = NP.output_size();
  if (Out < S->min_output() || Out > S->max_output())
    return fileError(Path, Op + " has " + llvm::Twine(Out) + " output" +
                               (Out == 1 ? "" : "s") + "; " + N.OpType + " (opset " +
                               llvm::Twine(N.Opset) + ") gives " +
                               Range(S->min_output(), S->max_output()));
  return llvm::Error::success();
}

llvm::Error Converter::convertNode(const onnx::NodeProto &NP, size_t Index) {
  Graph &G = M->G;
  Node N;
  N.OpType = NP.op_type();
  N.Domain = NP.domain();
  N.Name = NP.name().empty() ? (NP.op_type() + "_" + llvm::Twine(Index)).str()
                             : NP.name();
  if (N.OpType.empty())
    return fileError(Path, "node " + llvm::Twine(Index) + " ('" + N.Name +
                               "') has no op_type");
  N.Kind = lookupOp(N.Domain, N.OpType);
  // The default domain is stored under "" whichever way the node spells it.
  std::string DomainKey = N.Domain == "ai.onnx" ? std::string() : N.Domain;
  auto It = M->Info.Opsets.find(DomainKey);
  if (It != M->Info.Opsets.end())
    N.Opset = It->second;
  else if (classifyDomain(N.Domain) == OpDomain::Onnx)
    return fileError(Path, "node '" + N.Name + "' (" + N.OpType +
                               ") uses the default domain, which the model "
                               "does not import in opset_import");
  else
    N.Opset = 1; // ORT accepts contrib ops without an explicit import
  if (classifyDomain(N.Domain) == OpDomain::Onnx)
    if (llvm::Error E = checkArity(NP, N))
      return E;
  for (const std::string &In : NP.input())
    N.Inputs.push_back(In.empty() ? NoId : G.getOrAddValue(In));
  for (const std::string &Out : NP.output())
    N.Outputs.push_back(Out.empty() ? NoId : G.getOrAddValue(Out));

  for (const auto &AP : NP.attribute()) {
    Attribute A;
    A.Name = AP.name();
    if (A.Name.empty())
      return fileError(Path, "node '" + N.Name + "' has an unnamed attribute");
    switch (AP.type()) {
    case onnx::AttributeProto::FLOAT: A.Kind = AttrKind::Float; A.F = AP.f(); break;
    case onnx::AttributeProto::INT: A.Kind = AttrKind::Int; A.I = AP.i(); break;
    case onnx::AttributeProto::STRING: A.Kind = AttrKind::String; A.S = AP.s(); break;
    case onnx::AttributeProto::FLOATS:
      A.Kind = AttrKind::Floats;
      A.Floats.assign(AP.floats().begin(), AP.floats().end());
      break;
    case onnx::AttributeProto::INTS:
      A.Kind = AttrKind::Ints;
      A.Ints.assign(AP.ints().begin(), AP.ints().end());
      break;
    case onnx::AttributeProto::STRINGS:
      A.Kind = AttrKind::Strings;
      A.Strings.assign(AP.strings().begin(), AP.strings().end());
      break;
    case onnx::AttributeProto::TENSOR: {
      auto T = convertTensor(AP.t(), "attribute '" + A.Name + "' of node '" +
                                         N.Name + "'");
      if (!T)
        return T.takeError();
      A.Kind = AttrKind::Tensor;
      A.Tensor = static_cast<int32_t>(G.Tensors.size());
      G.Tensors.push_back(std::move(*T));
      break;
    }
    case onnx::AttributeProto::GRAPH:
    case onnx::AttributeProto::GRAPHS:
      A.Kind = AttrKind::Graph;
      N.Subgraphs += AP.has_g() ? 1 : AP.graphs_size();
      break;
    default:
      A.Kind = AttrKind::Other;
      break;
    }
    N.Attrs.push_back(std::move(A));
  }
  G.Nodes.push_back(std::move(N));
  return llvm::Error::success();
}

llvm::Error Converter::convertGraph(const onnx::GraphProto &GP) {
  Graph &G = M->G;
  G.Name = GP.name();
  if (static_cast<uint64_t>(GP.node_size()) > Limits.MaxNodes)
    return fileError(Path, "graph has " + llvm::Twine(GP.node_size()) +
                               " nodes, over the limit of " +
                               llvm::Twine(Limits.MaxNodes));
  if (GP.sparse_initializer_size() > 0)
    return fileError(Path, "graph has sparse initializers, which gradlint does "
                           "not read (first: '" +
                               GP.sparse_initializer(0).values().name() + "')");
  if (llvm::Error E = checkSubgraphs(GP, 0))
    return E;

  for (int I = 0; I != GP.initializer_size(); ++I) {
    const auto &T = GP.initializer(I);
    if (T.name().empty())
      return fileError(Path, "initializer " + llvm::Twine(I) + " has no name");
    if (G.findValue(T.name()) != NoId)
      return fileError(Path, "initializer '" + T.name() + "' is defined twice");
    auto Data = convertTensor(T, "initializer '" + T.name() + "'");
    if (!Data)
      return Data.takeError();
    ValueId V = G.getOrAddValue(T.name());
    G.Values[V].Type = Data->Type;
    G.Values[V].HasDeclaredShape = true;
    for (int64_t D : Data->Shape) {
      DimSpec S;
      S.Size = D;
      G.Values[V].DeclaredShape.push_back(S);
    }
    G.Values[V].Initializer = static_cast<int32_t>(G.Tensors.size());
    G.Tensors.push_back(std::move(*Data));
    G.Initializers.push_back(V);
  }
  for (const auto &VI : GP.input()) {
    if (VI.name().empty())
      return fileError(Path, "graph has an unnamed input");
    ValueId V = G.getOrAddValue(VI.name());
    if (G.Values[V].Initializer >= 0)
      continue; // IR < 4 lists initializers among the inputs
    if (G.Values[V].IsInput)
      return fileError(Path, "graph input '" + VI.name() + "' is listed twice");
    G.Values[V].IsInput = true;
    G.Inputs.push_back(V);
    if (llvm::Error E = convertValueInfo(VI, V, "input"))
      return E;
  }
  for (int I = 0; I != GP.node_size(); ++I)
    if (llvm::Error E = convertNode(GP.node(I), I))
      return E;
  for (const auto &VI : GP.output()) {
    ValueId V = G.findValue(VI.name());
    if (VI.name().empty() || V == NoId)
      return fileError(Path, "graph output '" + VI.name() +
                                 "' is not defined by any node, input or "
                                 "initializer");
    if (G.Values[V].IsOutput)
      return fileError(Path, "graph output '" + VI.name() + "' is listed twice");
    G.Values[V].IsOutput = true;
    G.Outputs.push_back(V);
    if (G.Values[V].Initializer < 0)
      if (llvm::Error E = convertValueInfo(VI, V, "output"))
        return E;
  }
  for (const auto &VI : GP.value_info()) {
    ValueId V = G.findValue(VI.name());
    if (V != NoId && G.Values[V].Initializer < 0 && !G.Values[V].IsInput)
      if (llvm::Error E = convertValueInfo(VI, V, "value_info"))
        return E;
  }
  if (G.Values.size() > Limits.MaxValues)
    return fileError(Path, "graph has " + llvm::Twine(G.Values.size()) +
                               " values, over the limit of " +
                               llvm::Twine(Limits.MaxValues));
  // Each Constant's tensor is the value it produces.
  for (Node &N : G.Nodes)
    if (N.Kind == OpKind::Constant && !N.Outputs.empty() && N.Outputs[0] != NoId)
      if (const Attribute *A = N.attr("value"); A && A->Kind == AttrKind::Tensor)
        G.Values[N.Outputs[0]].Type = G.Tensors[A->Tensor].Type;
  return inFile(Path, G.finalize());
}

/// Names are quoted in reports, errors and on terminals. A damaged or hostile
/// file's control characters and bytes that are not UTF-8 become \xNN
/// escapes once, here (printable()), so every later use sees the same name
/// and references between names still match.
static void makePrintable(std::string *S) {
  if (llvm::all_of(*S, [](unsigned char C) { return C >= 0x20 && C < 0x7f; }))
    return; // plain ASCII, nearly every name: no copy
  *S = printable(*S);
}

static void makeNamesPrintable(onnx::GraphProto &G) {
  makePrintable(G.mutable_name());
  for (onnx::NodeProto &N : *G.mutable_node()) {
    makePrintable(N.mutable_name());
    makePrintable(N.mutable_op_type());
    makePrintable(N.mutable_domain());
    for (std::string &S : *N.mutable_input())
      makePrintable(&S);
    for (std::string &S : *N.mutable_output())
      makePrintable(&S);
    for (onnx::AttributeProto &A : *N.mutable_attribute()) {
      makePrintable(A.mutable_name());
      if (A.has_g())
        makeNamesPrintable(*A.mutable_g());
      for (onnx::GraphProto &Sub : *A.mutable_graphs())
        makeNamesPrintable(Sub);
    }
  }
  for (onnx::TensorProto &T : *G.mutable_initializer())
    makePrintable(T.mutable_name());
  for (onnx::SparseTensorProto &T : *G.mutable_sparse_initializer())
    makePrintable(T.mutable_values()->mutable_name());
  for (auto *List : {G.mutable_input(), G.mutable_output(), G.mutable_value_info()})
    for (onnx::ValueInfoProto &VI : *List)
      makePrintable(VI.mutable_name());
}

llvm::Expected<std::unique_ptr<Model>>
gradlint::loadModel(llvm::StringRef Path, const LoadLimits &Limits) {
  auto Buf = openFile(Path, Limits.MaxModelBytes, "a model");
  if (!Buf)
    return Buf.takeError();
  auto Proto = std::make_shared<onnx::ModelProto>();
  llvm::StringRef Bytes = (*Buf)->getBuffer();
  if (!parseMessage(Bytes, *Proto))
    return fileError(Path, "is not a valid ONNX protobuf (truncated or not a "
                           "model file)");
  if (Proto->has_graph())
    makeNamesPrintable(*Proto->mutable_graph());
  for (std::string *S : {Proto->mutable_producer_name(), Proto->mutable_producer_version(),
                         Proto->mutable_domain()})
    makePrintable(S);
  for (onnx::OperatorSetIdProto &OS : *Proto->mutable_opset_import())
    makePrintable(OS.mutable_domain());
  auto M = std::make_unique<Model>();
  ModelInfo &Info = M->Info;
  Info.Path = Path.str();
  Info.FileBytes = Bytes.size();
  Info.IrVersion = Proto->ir_version();
  Info.Producer = Proto->producer_name();
  Info.ProducerVersion = Proto->producer_version();
  Info.Domain = Proto->domain();
  Info.DocString = Proto->doc_string();
  Info.ModelVersion = Proto->model_version();
  if (!Proto->has_ir_version() || Proto->ir_version() == 0)
    return fileError(Path, "has no ir_version: not an ONNX model (random or "
                           "truncated bytes can parse as an empty message)");
  if (Proto->ir_version() < Limits.MinIrVersion ||
      Proto->ir_version() > Limits.MaxIrVersion)
    return fileError(Path, "has IR version " + llvm::Twine(Proto->ir_version()) +
                               "; gradlint reads IR versions " +
                               llvm::Twine(Limits.MinIrVersion) + " to " +
                               llvm::Twine(Limits.MaxIrVersion));
  if (!Proto->has_graph())
    return fileError(Path, "has no graph");
  if (Proto->opset_import_size() == 0)
    return fileError(Path, "imports no opset (opset_import is empty)");
  for (const auto &OS : Proto->opset_import()) {
    std::string D = OS.domain() == "ai.onnx" ? "" : OS.domain();
    if (OS.version() <= 0)
      return fileError(Path, "imports domain '" + OS.domain() +
                                 "' at invalid version " +
                                 llvm::Twine(OS.version()));
    if (!Info.Opsets.emplace(D, OS.version()).second)
      return fileError(Path, "imports domain '" + OS.domain() + "' twice");
  }
  Converter C(Path, Limits, M.get());
  if (llvm::Error E = C.convertGraph(Proto->graph()))
    return E;
  Info.ExternalBytes = C.ExternalBytes;
  M->Storage = std::move(C.Storage);
  M->Storage.push_back(Proto);
  M->Storage.push_back(std::shared_ptr<llvm::MemoryBuffer>(std::move(*Buf)));
  return M;
}

llvm::Expected<LoadedTensor> gradlint::loadTensorFile(llvm::StringRef Path,
                                                      const LoadLimits &Limits) {
  auto Buf = openFile(Path, Limits.MaxModelBytes, "a tensor file");
  if (!Buf)
    return Buf.takeError();
  auto Proto = std::make_shared<onnx::TensorProto>();
  if (!parseMessage((*Buf)->getBuffer(), *Proto) || !Proto->has_data_type())
    return fileError(Path, "is not a valid ONNX TensorProto");
  Model Scratch;
  Converter C(Path, Limits, &Scratch);
  auto T = C.convertTensor(*Proto, "tensor '" + Proto->name() + "'");
  if (!T)
    return T.takeError();
  LoadedTensor Out;
  Out.Tensor = std::move(*T);
  C.Storage.push_back(Proto);
  Out.Storage = std::make_shared<std::vector<std::shared_ptr<const void>>>(
      std::move(C.Storage));
  return Out;
}
