//===- OnnxBuilder.cpp ----------------------------------------------------===//
#include "OnnxBuilder.h"
#include <onnx/onnx_pb.h>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <unistd.h>

using namespace gradlint::test;

struct OnnxBuilder::Impl {
  onnx::ModelProto Model;
  onnx::GraphProto *G() { return Model.mutable_graph(); }
};

OnnxBuilder::OnnxBuilder(int64_t Opset, int64_t IrVersion)
    : P(std::make_unique<Impl>()) {
  P->Model.set_ir_version(IrVersion);
  P->Model.set_producer_name("gradlint-test");
  auto *O = P->Model.add_opset_import();
  O->set_domain("");
  O->set_version(Opset);
  P->G()->set_name("test");
}
OnnxBuilder::~OnnxBuilder() = default;
OnnxBuilder::OnnxBuilder(OnnxBuilder &&) = default;

OnnxBuilder &OnnxBuilder::opset(const std::string &Domain, int64_t Version) {
  auto *O = P->Model.add_opset_import();
  O->set_domain(Domain);
  O->set_version(Version);
  return *this;
}

OnnxBuilder &OnnxBuilder::producer(const std::string &Name) {
  P->Model.set_producer_name(Name);
  return *this;
}

OnnxBuilder &OnnxBuilder::irVersion(int64_t V) {
  P->Model.set_ir_version(V);
  return *this;
}

OnnxBuilder &OnnxBuilder::clearOpsets() {
  P->Model.clear_opset_import();
  return *this;
}

static void fillType(onnx::ValueInfoProto *VI, int32_t ElemType,
                     const std::vector<Dim> *Shape) {
  auto *T = VI->mutable_type()->mutable_tensor_type();
  T->set_elem_type(ElemType);
  if (!Shape)
    return;
  auto *S = T->mutable_shape();
  for (const Dim &D : *Shape) {
    auto *SD = S->add_dim();
    if (std::holds_alternative<int64_t>(D))
      SD->set_dim_value(std::get<int64_t>(D));
    else if (!std::get<std::string>(D).empty())
      SD->set_dim_param(std::get<std::string>(D));
  }
}

OnnxBuilder &OnnxBuilder::input(const std::string &Name, int32_t ElemType,
                                const std::vector<Dim> &Shape) {
  auto *VI = P->G()->add_input();
  VI->set_name(Name);
  fillType(VI, ElemType, &Shape);
  return *this;
}

OnnxBuilder &OnnxBuilder::inputNoShape(const std::string &Name,
                                       int32_t ElemType) {
  auto *VI = P->G()->add_input();
  VI->set_name(Name);
  fillType(VI, ElemType, nullptr);
  return *this;
}

OnnxBuilder &OnnxBuilder::output(const std::string &Name, int32_t ElemType) {
  auto *VI = P->G()->add_output();
  VI->set_name(Name);
  fillType(VI, ElemType, nullptr);
  return *this;
}

OnnxBuilder &OnnxBuilder::output(const std::string &Name, int32_t ElemType,
                                 const std::vector<Dim> &Shape) {
  auto *VI = P->G()->add_output();
  VI->set_name(Name);
  fillType(VI, ElemType, &Shape);
  return *this;
}

OnnxBuilder &OnnxBuilder::valueInfo(const std::string &Name, int32_t ElemType,
                                    const std::vector<Dim> &Shape) {
  auto *VI = P->G()->add_value_info();
  VI->set_name(Name);
  fillType(VI, ElemType, &Shape);
  return *this;
}

static onnx::TensorProto *newTensor(onnx::TensorProto *T, const std::string &Name,
                                    int32_t Type, const std::vector<int64_t> &Dims) {
  T->set_name(Name);
  T->set_data_type(Type);
  for (int64_t D : Dims)
    T->add_dims(D);
  return T;
}

OnnxBuilder &OnnxBuilder::floatInit(const std::string &Name,
                                    const std::vector<int64_t> &Dims,
                                    const std::vector<float> &Values) {
  auto *T = newTensor(P->G()->add_initializer(), Name, onnx::TensorProto::FLOAT, Dims);
  T->set_raw_data(std::string(reinterpret_cast<const char *>(Values.data()),
                              Values.size() * sizeof(float)));
  return *this;
}

OnnxBuilder &OnnxBuilder::int64Init(const std::string &Name,
                                    const std::vector<int64_t> &Dims,
                                    const std::vector<int64_t> &Values) {
  auto *T = newTensor(P->G()->add_initializer(), Name, onnx::TensorProto::INT64, Dims);
  for (int64_t V : Values)
    T->add_int64_data(V);
  return *this;
}

OnnxBuilder &OnnxBuilder::rawInit(const std::string &Name, int32_t DataType,
                                  const std::vector<int64_t> &Dims,
                                  const std::string &Raw) {
  auto *T = newTensor(P->G()->add_initializer(), Name, DataType, Dims);
  T->set_raw_data(Raw);
  return *this;
}

OnnxBuilder &OnnxBuilder::typedFloatInit(const std::string &Name,
                                         const std::vector<int64_t> &Dims,
                                         const std::vector<float> &Values) {
  auto *T = newTensor(P->G()->add_initializer(), Name, onnx::TensorProto::FLOAT, Dims);
  for (float V : Values)
    T->add_float_data(V);
  return *this;
}

OnnxBuilder &OnnxBuilder::externalInit(const std::string &Name, int32_t DataType,
                                       const std::vector<int64_t> &Dims,
                                       const std::string &Location,
                                       const std::string &Offset,
                                       const std::string &Length) {
  auto *T = newTensor(P->G()->add_initializer(), Name, DataType, Dims);
  T->set_data_location(onnx::TensorProto::EXTERNAL);
  auto Add = [&](const std::string &K, const std::string &V) {
    auto *E = T->add_external_data();
    E->set_key(K);
    E->set_value(V);
  };
  Add("location", Location);
  if (!Offset.empty())
    Add("offset", Offset);
  if (!Length.empty())
    Add("length", Length);
  return *this;
}

OnnxBuilder &OnnxBuilder::node(const std::string &OpType,
                               const std::vector<std::string> &Inputs,
                               const std::vector<std::string> &Outputs,
                               const Attrs &Attributes, const std::string &Domain,
                               const std::string &Name) {
  auto *N = P->G()->add_node();
  N->set_op_type(OpType);
  N->set_domain(Domain);
  N->set_name(Name.empty() ? OpType + "_" + std::to_string(P->G()->node_size())
                           : Name);
  for (const auto &I : Inputs)
    N->add_input(I);
  for (const auto &O : Outputs)
    N->add_output(O);
  for (const auto &[K, V] : Attributes) {
    auto *A = N->add_attribute();
    A->set_name(K);
    if (auto *I = std::get_if<int64_t>(&V)) {
      A->set_type(onnx::AttributeProto::INT);
      A->set_i(*I);
    } else if (auto *F = std::get_if<float>(&V)) {
      A->set_type(onnx::AttributeProto::FLOAT);
      A->set_f(*F);
    } else if (auto *S = std::get_if<std::string>(&V)) {
      A->set_type(onnx::AttributeProto::STRING);
      A->set_s(*S);
    } else if (auto *IS = std::get_if<std::vector<int64_t>>(&V)) {
      A->set_type(onnx::AttributeProto::INTS);
      for (int64_t X : *IS)
        A->add_ints(X);
    } else if (auto *FS = std::get_if<std::vector<float>>(&V)) {
      A->set_type(onnx::AttributeProto::FLOATS);
      for (float X : *FS)
        A->add_floats(X);
    }
  }
  return *this;
}

OnnxBuilder &OnnxBuilder::constantFloat(const std::string &Output,
                                        const std::vector<int64_t> &Dims,
                                        const std::vector<float> &Values) {
  node("Constant", {}, {Output});
  auto *A = P->G()->mutable_node(P->G()->node_size() - 1)->add_attribute();
  A->set_name("value");
  A->set_type(onnx::AttributeProto::TENSOR);
  auto *T = newTensor(A->mutable_t(), Output, onnx::TensorProto::FLOAT, Dims);
  for (float V : Values)
    T->add_float_data(V);
  return *this;
}

OnnxBuilder &OnnxBuilder::constantInt64(const std::string &Output,
                                        const std::vector<int64_t> &Dims,
                                        const std::vector<int64_t> &Values) {
  node("Constant", {}, {Output});
  auto *A = P->G()->mutable_node(P->G()->node_size() - 1)->add_attribute();
  A->set_name("value");
  A->set_type(onnx::AttributeProto::TENSOR);
  auto *T = newTensor(A->mutable_t(), Output, onnx::TensorProto::INT64, Dims);
  for (int64_t V : Values)
    T->add_int64_data(V);
  return *this;
}

OnnxBuilder &OnnxBuilder::nestedSubgraphs(unsigned Depth) {
  auto *N = P->G()->mutable_node(P->G()->node_size() - 1);
  auto *A = N->add_attribute();
  A->set_name("then_branch");
  A->set_type(onnx::AttributeProto::GRAPH);
  onnx::GraphProto *G = A->mutable_g();
  for (unsigned I = 1; I < Depth; ++I) {
    auto *Inner = G->add_node();
    Inner->set_op_type("If");
    auto *IA = Inner->add_attribute();
    IA->set_name("then_branch");
    IA->set_type(onnx::AttributeProto::GRAPH);
    G = IA->mutable_g();
  }
  return *this;
}

std::string OnnxBuilder::serialize() const {
  std::string S;
  if (!P->Model.SerializeToString(&S))
    throw std::runtime_error("OnnxBuilder: cannot serialize");
  return S;
}

std::string OnnxBuilder::writeTo(const std::string &Path) const {
  writeFile(Path, serialize());
  return Path;
}

std::string gradlint::test::serializeFloatTensor(const std::string &Name,
                                                 const std::vector<int64_t> &Dims,
                                                 const std::vector<float> &Values) {
  onnx::TensorProto T;
  newTensor(&T, Name, onnx::TensorProto::FLOAT, Dims);
  T.set_raw_data(std::string(reinterpret_cast<const char *>(Values.data()),
                             Values.size() * sizeof(float)));
  return T.SerializeAsString();
}

std::string gradlint::test::makeTempDir(const std::string &Tag) {
  std::string Template = "/tmp/gradlint-" + Tag + "-XXXXXX";
  std::vector<char> Buf(Template.begin(), Template.end());
  Buf.push_back('\0');
  if (!mkdtemp(Buf.data()))
    throw std::runtime_error("mkdtemp failed");
  return Buf.data();
}

void gradlint::test::writeFile(const std::string &Path, const std::string &Bytes) {
  std::ofstream F(Path, std::ios::binary);
  F.write(Bytes.data(), Bytes.size());
  if (!F)
    throw std::runtime_error("cannot write " + Path);
}

#include "TestPaths.h"
#include <array>
#include <sys/wait.h>

int gradlint::test::runCommand(const std::string &Cmd, std::string &Out,
                               std::string &Err) {
  std::string Dir = makeTempDir("cmd");
  std::string ErrPath = Dir + "/stderr";
  std::string Full = Cmd + " 2>" + ErrPath;
  FILE *P = popen(Full.c_str(), "r");
  if (!P)
    return -1;
  Out.clear();
  std::array<char, 4096> Buf;
  size_t N;
  while ((N = fread(Buf.data(), 1, Buf.size(), P)) > 0)
    Out.append(Buf.data(), N);
  int Status = pclose(P);
  std::ifstream E(ErrPath, std::ios::binary);
  Err.assign(std::istreambuf_iterator<char>(E), std::istreambuf_iterator<char>());
  std::remove(ErrPath.c_str());
  rmdir(Dir.c_str());
  return WIFEXITED(Status) ? WEXITSTATUS(Status) : 128 + WTERMSIG(Status);
}
