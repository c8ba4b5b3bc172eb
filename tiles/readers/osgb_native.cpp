// cimtwin OSGB reader: one .osgb file -> one binary blob (JSON header + arrays).
//
// Built by `make native` against Debian's libopenscenegraph-dev and loaded by
// tiles/readers/osgb.py with ctypes. OpenSceneGraph itself parses the file (every
// serializer version it knows), so nothing of the format is re-implemented here.
//
// Matrices are OSG's (row vectors, translation in the last row), 16 numbers in memory order.
//
// Blob layout: uint64 json_length, the JSON text, zero padding to 8 bytes, then the
// binary section; every "[offset, count]" pair in the JSON indexes that section
// (positions float64 x3, uvs float32 x2, indices uint32 x3, texture bytes uint8).
//
// Textures stored in the file as an image file (JPEG/PNG, OSG's IMAGE_INLINE_FILE or an
// external file) are NOT decoded: a pass-through ReaderWriter registered for those
// extensions keeps their bytes, so they reach the glb unchanged. Raw pixel arrays
// (ContextCapture's usual IMAGE_INLINE_DATA) are handed over as pixels.
#include <osg/Geode>
#include <osg/Geometry>
#include <osg/Image>
#include <osg/Material>
#include <osg/NodeVisitor>
#include <osg/PagedLOD>
#include <osg/Texture2D>
#include <osg/TriangleIndexFunctor>
#include <osgDB/FileNameUtils>
#include <osgDB/FileUtils>
#include <osgDB/ReadFile>
#include <osgDB/Registry>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

const char* kEncodedTag = "cimtwin-encoded";

// Keeps an image file's bytes in an osg::Image (pixel format 0) instead of decoding it.
class PassThroughImages : public osgDB::ReaderWriter {
 public:
  PassThroughImages() {
    supportsExtension("jpg", "JPEG kept as bytes");
    supportsExtension("jpeg", "JPEG kept as bytes");
    supportsExtension("png", "PNG kept as bytes");
  }
  const char* className() const override { return "cimtwin pass-through images"; }

  ReadResult readImage(std::istream& in, const Options*) const override {
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.empty()) return ReadResult::ERROR_IN_READING_FILE;
    auto* data = new unsigned char[bytes.size()];
    std::memcpy(data, bytes.data(), bytes.size());
    osg::ref_ptr<osg::Image> image = new osg::Image;
    image->setImage(static_cast<int>(bytes.size()), 1, 1, 0, 0, GL_UNSIGNED_BYTE, data,
                    osg::Image::USE_NEW_DELETE);
    image->setUserValue(kEncodedTag, true);
    return image.release();
  }

  ReadResult readImage(const std::string& file, const Options* options) const override {
    std::string ext = osgDB::getLowerCaseFileExtension(file);
    if (!acceptsExtension(ext)) return ReadResult::FILE_NOT_HANDLED;
    std::string path = osgDB::findDataFile(file, options);
    if (path.empty()) return ReadResult::FILE_NOT_FOUND;
    std::ifstream in(path.c_str(), std::ios::binary);
    if (!in) return ReadResult::ERROR_IN_READING_FILE;
    return readImage(in, options);
  }
};

void register_pass_through() {
  static bool done = false;
  if (!done) {
    osgDB::Registry::instance()->addReaderWriter(new PassThroughImages);
    done = true;
  }
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') { out += '\\'; out += static_cast<char>(c); }
    else if (c < 0x20) { char buf[8]; std::snprintf(buf, sizeof buf, "\\u%04x", c); out += buf; }
    else out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string num(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

struct Blob {
  std::vector<unsigned char> bin;
  // Appends bytes 8-aligned; returns their offset.
  size_t add(const void* data, size_t size) {
    while (bin.size() % 8) bin.push_back(0);
    size_t offset = bin.size();
    const auto* p = static_cast<const unsigned char*>(data);
    bin.insert(bin.end(), p, p + size);
    return offset;
  }
};

struct Triangles {
  std::vector<uint32_t>* out = nullptr;
  void operator()(unsigned a, unsigned b, unsigned c) {
    out->push_back(a); out->push_back(b); out->push_back(c);
  }
};

// Collects every Geometry under the PagedLOD it belongs to ("owner").
class Collector : public osg::NodeVisitor {
 public:
  Blob blob;
  std::vector<std::string> nodes, geoms, textures, warnings;
  std::vector<std::vector<int>> node_geoms;

  Collector() : osg::NodeVisitor(TRAVERSE_ALL_CHILDREN) {}

  void apply(osg::PagedLOD& plod) override {
    std::ostringstream s;
    const osg::Vec3& c = plod.getCenter();
    s << "{\"kind\":\"plod\",\"center\":[" << num(c.x()) << "," << num(c.y()) << ","
      << num(c.z()) << "],\"radius\":" << num(plod.getRadius()) << ",\"mode\":"
      << (plod.getRangeMode() == osg::LOD::PIXEL_SIZE_ON_SCREEN ? "\"pixel\"" : "\"distance\"")
      << ",\"ranges\":[";
    for (unsigned i = 0; i < plod.getNumRanges(); ++i)
      s << (i ? "," : "") << "[" << num(plod.getMinRange(i)) << "," << num(plod.getMaxRange(i)) << "]";
    s << "],\"files\":[";
    for (unsigned i = 0; i < plod.getNumFileNames(); ++i)
      s << (i ? "," : "") << quote(plod.getFileName(i));
    // where this PagedLOD sits: child files it loads are drawn under the same matrix
    osg::Matrixd m = osg::computeLocalToWorld(getNodePath());
    s << "],\"matrix\":[";
    for (int k = 0; k < 16; ++k) s << (k ? "," : "") << num(m.ptr()[k]);
    s << "]";
    nodes.push_back(s.str());
    node_geoms.emplace_back();
    int saved = owner_;
    owner_ = static_cast<int>(nodes.size()) - 1;
    traverse(plod);
    owner_ = saved;
  }

  void apply(osg::Geometry& geometry) override {
    if (owner_ < 0) {
      nodes.push_back("{\"kind\":\"group\",\"ranges\":[],\"files\":[]");
      node_geoms.emplace_back();
      owner_ = group_ = static_cast<int>(nodes.size()) - 1;
    }
    add_geometry(geometry);
    if (owner_ == group_) owner_ = -1;
  }

 private:
  int owner_ = -1;
  int group_ = -1;
  std::map<const osg::Image*, int> image_index_;

  void add_geometry(osg::Geometry& geometry) {
    osg::Matrixd matrix = osg::computeLocalToWorld(getNodePath());
    const osg::Array* vertices = geometry.getVertexArray();
    if (!vertices || vertices->getNumElements() == 0) return;
    std::vector<double> pos;
    pos.reserve(vertices->getNumElements() * 3);
    if (auto* v3 = dynamic_cast<const osg::Vec3Array*>(vertices)) {
      for (const auto& v : *v3) { osg::Vec3d w = osg::Vec3d(v) * matrix; pos.insert(pos.end(), {w.x(), w.y(), w.z()}); }
    } else if (auto* v3d = dynamic_cast<const osg::Vec3dArray*>(vertices)) {
      for (const auto& v : *v3d) { osg::Vec3d w = v * matrix; pos.insert(pos.end(), {w.x(), w.y(), w.z()}); }
    } else {
      warnings.push_back("a geometry with a vertex array that is not Vec3 was skipped");
      return;
    }
    size_t count = pos.size() / 3;
    std::vector<uint32_t> idx;
    osg::TriangleIndexFunctor<Triangles> functor;
    functor.out = &idx;
    geometry.accept(functor);
    if (idx.empty()) return;
    std::ostringstream s;
    s << "{\"v\":[" << blob.add(pos.data(), pos.size() * 8) << "," << count << "]";
    s << ",\"i\":[" << blob.add(idx.data(), idx.size() * 4) << "," << idx.size() / 3 << "]";
    add_uvs(geometry, count, s);
    add_state(geometry, s);
    s << "}";
    geoms.push_back(s.str());
    node_geoms[owner_].push_back(static_cast<int>(geoms.size()) - 1);
  }

  void add_uvs(osg::Geometry& geometry, size_t count, std::ostringstream& s) {
    std::vector<float> uv;
    if (auto* t2 = dynamic_cast<const osg::Vec2Array*>(geometry.getTexCoordArray(0))) {
      for (const auto& t : *t2) uv.insert(uv.end(), {t.x(), t.y()});
    } else if (auto* t2d = dynamic_cast<const osg::Vec2dArray*>(geometry.getTexCoordArray(0))) {
      for (const auto& t : *t2d) uv.insert(uv.end(), {float(t.x()), float(t.y())});
    }
    if (uv.size() == count * 2)
      s << ",\"uv\":[" << blob.add(uv.data(), uv.size() * 4) << "," << count << "]";
  }

  // Texture unit 0 and material diffuse colour from the nearest StateSet that has them.
  void add_state(osg::Geometry& geometry, std::ostringstream& s) {
    const osg::Texture* texture = nullptr;
    const osg::Material* material = nullptr;
    auto look = [&](const osg::StateSet* ss) {
      if (!ss) return;
      if (!texture) texture = dynamic_cast<const osg::Texture*>(
          ss->getTextureAttribute(0, osg::StateAttribute::TEXTURE));
      if (!material) material = dynamic_cast<const osg::Material*>(
          ss->getAttribute(osg::StateAttribute::MATERIAL));
    };
    look(geometry.getStateSet());
    const osg::NodePath& path = getNodePath();
    for (auto it = path.rbegin(); it != path.rend(); ++it) look((*it)->getStateSet());
    if (material) {
      osg::Vec4 d = material->getDiffuse(osg::Material::FRONT);
      s << ",\"color\":[" << d.r() << "," << d.g() << "," << d.b() << "," << d.a() << "]";
    }
    const osg::Image* image = texture ? texture->getImage(0) : nullptr;
    if (texture && !image)
      warnings.push_back("a texture without image data (missing or unreadable file)");
    s << ",\"tex\":" << (image ? texture_index(image) : -1);
  }

  int texture_index(const osg::Image* image) {
    auto found = image_index_.find(image);
    if (found != image_index_.end()) return found->second;
    bool encoded = false;
    image->getUserValue(kEncodedTag, encoded);
    size_t size = encoded ? static_cast<size_t>(image->s()) : image->getImageSizeInBytes();
    std::ostringstream s;
    s << "{\"kind\":" << (encoded ? "\"encoded\"" : "\"raw\"") << ",\"name\":"
      << quote(image->getFileName()) << ",\"w\":" << image->s() << ",\"h\":" << image->t()
      << ",\"format\":" << image->getPixelFormat() << ",\"type\":" << image->getDataType()
      << ",\"origin\":" << (image->getOrigin() == osg::Image::TOP_LEFT ? 1 : 0)
      << ",\"packing\":" << image->getPacking()
      << ",\"data\":[" << blob.add(image->data(), size) << "," << size << "]}";
    textures.push_back(s.str());
    int index = static_cast<int>(textures.size()) - 1;
    image_index_[image] = index;
    return index;
  }
};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? "," : "") + items[i];
  return out;
}

unsigned char* finish(Collector& c, uint64_t* size_out) {
  std::ostringstream j;
  j << "{\"nodes\":[";
  for (size_t i = 0; i < c.nodes.size(); ++i) {
    j << (i ? "," : "") << c.nodes[i] << ",\"geoms\":[";
    for (size_t k = 0; k < c.node_geoms[i].size(); ++k) j << (k ? "," : "") << c.node_geoms[i][k];
    j << "]}";
  }
  j << "],\"geoms\":[" << join(c.geoms) << "],\"textures\":[" << join(c.textures) << "]";
  std::vector<std::string> quoted;
  for (const auto& w : c.warnings) quoted.push_back(quote(w));
  j << ",\"warnings\":[" << join(quoted) << "]}";
  std::string json = j.str();
  uint64_t head = 8 + json.size();
  uint64_t padded = (head + 7) / 8 * 8;
  uint64_t total = padded + c.blob.bin.size();
  auto* out = static_cast<unsigned char*>(std::malloc(total));
  if (!out) return nullptr;
  uint64_t json_size = json.size();
  std::memcpy(out, &json_size, 8);
  std::memcpy(out + 8, json.data(), json.size());
  std::memset(out + head, 0, padded - head);
  if (!c.blob.bin.empty()) std::memcpy(out + padded, c.blob.bin.data(), c.blob.bin.size());
  *size_out = total;
  return out;
}

}  // namespace

extern "C" {

// Reads one .osgb (or any format OSG reads); returns a malloc'ed blob (free it with
// cimtwin_osgb_free) or NULL with a message in `error`.
unsigned char* cimtwin_osgb_read(const char* path, uint64_t* size_out, char* error,
                                 int error_size) {
  register_pass_through();
  osg::ref_ptr<osgDB::Options> options = new osgDB::Options;
  options->setObjectCacheHint(osgDB::Options::CACHE_NONE);
  osg::ref_ptr<osg::Node> node;
  try {
    node = osgDB::readRefNodeFile(path, options.get());
  } catch (const std::exception& exc) {
    std::snprintf(error, error_size, "%s", exc.what());
    return nullptr;
  }
  if (!node) {
    std::snprintf(error, error_size, "OpenSceneGraph cannot read this file "
                  "(truncated, damaged or not an OSG file)");
    return nullptr;
  }
  Collector collector;
  node->accept(collector);
  unsigned char* out = finish(collector, size_out);
  if (!out) std::snprintf(error, error_size, "out of memory");
  return out;
}

void cimtwin_osgb_free(unsigned char* blob) { std::free(blob); }

}  // extern "C"
