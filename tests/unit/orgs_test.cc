// Organisation routing: the labelled post set (precision and recall) and one
// test per rule of classifiers/orgs/org_router.h over the default
// config/orgs, plus loader errors over small gazetteers written here.
#include <re2/re2.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "classifiers/orgs/gazetteer.h"
#include "classifiers/orgs/org_router.h"
#include "classifiers/orgs/word_prefilter.h"
#include "tests/support/fixtures.h"

namespace {

namespace fs = std::filesystem;
using earshot::orgs::OrgRouter;
using earshot::orgs::Routing;
using earshot::orgs::WordPrefilter;

const OrgRouter& DefaultRouter() {
  static std::shared_ptr<const OrgRouter> router = [] {
    auto loaded = OrgRouter::Load(fs::path(EARSHOT_SOURCE_DIR) / "config" / "orgs");
    if (!loaded.ok()) FAIL("config/orgs does not load: " << loaded.status().ToString());
    return *loaded;
  }();
  return *router;
}

std::set<std::string> Codes(const Routing& r) {
  std::set<std::string> out;
  for (const auto& o : r.orgs) out.insert(o.code);
  return out;
}

std::set<std::string> CodesOf(std::string_view text) { return Codes(DefaultRouter().Route(text)); }

std::string Describe(const Routing& r, std::string_view text) {
  std::ostringstream out;
  for (const auto& o : r.orgs) {
    out << o.code << " via " << o.rule << " '" << text.substr(o.start, o.end - o.start) << "'; ";
  }
  for (const auto& u : r.unrouted) {
    out << "unrouted '" << u.mention << "':";
    for (const auto& c : u.candidates) out << " " << c;
    out << "; ";
  }
  return out.str();
}

struct LabelledPost {
  std::set<std::string> expected;
  std::string category;
  std::string text;
  int line = 0;
};

std::vector<LabelledPost> ReadPosts(const std::string& fixture = "routing/posts.tsv") {
  std::ifstream in(earshot::testing::OwnFixture(fixture));
  REQUIRE(in.good());
  std::vector<LabelledPost> posts;
  std::string line;
  bool header = false;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty() || line[0] == '#') continue;
    if (!header) {
      header = true;  // expected	category	text
      continue;
    }
    LabelledPost post;
    post.line = line_no;
    std::istringstream fields(line);
    std::string expected;
    std::getline(fields, expected, '\t');
    std::getline(fields, post.category, '\t');
    std::getline(fields, post.text);
    if (expected != "-") {
      std::istringstream codes(expected);
      std::string code;
      while (std::getline(codes, code, ',')) post.expected.insert(code);
    }
    posts.push_back(std::move(post));
  }
  return posts;
}

// Micro precision and recall of the router over a labelled set, with every
// mistake shown as a warning.
struct SetScore {
  int tp = 0, fp = 0, fn = 0;
  std::set<std::string> categories;
  double precision() const { return tp + fp ? static_cast<double>(tp) / (tp + fp) : 1.0; }
  double recall() const { return tp + fn ? static_cast<double>(tp) / (tp + fn) : 1.0; }
};

template <typename Posts>
SetScore ScoreSet(const Posts& posts, const std::string& file) {
  SetScore score;
  for (const auto& post : posts) {
    score.categories.insert(post.category);
    Routing r = DefaultRouter().Route(post.text);
    auto got = Codes(r);
    int post_fp = 0, post_fn = 0;
    for (const auto& c : got) post.expected.count(c) ? ++score.tp : ++post_fp;
    for (const auto& c : post.expected) post_fn += got.count(c) ? 0 : 1;
    score.fp += post_fp;
    score.fn += post_fn;
    if (post_fp || post_fn) {
      WARN(file << ":" << post.line << " [" << post.category << "] " << post.text << "\n  got "
                << Describe(r, post.text));
    }
  }
  WARN(file << ": " << posts.size() << " posts, " << score.tp << " true / " << score.fp
            << " false / " << score.fn << " missed organisations; precision " << score.precision()
            << ", recall " << score.recall());
  return score;
}

TEST_CASE("the labelled routing set holds precision >= 0.98 and recall >= 0.92", "[orgs]") {
  auto posts = ReadPosts();
  REQUIRE(posts.size() >= 200);
  SetScore score = ScoreSet(posts, "posts.tsv");
  CHECK(score.categories.count("lookalike"));
  CHECK(score.categories.count("ambiguous"));
  CHECK(score.categories.count("merged"));
  CHECK(score.tp > 200);
  REQUIRE(score.precision() >= 0.98);
  REQUIRE(score.recall() >= 0.92);
}

// heldout.tsv was written by a helper who had not seen the gazetteer, the
// router or posts.tsv. Before any change it measured precision 0.981 and
// recall 0.915 (306 posts, 204 true / 4 false / 19 missed); the fixes that
// followed are in config/orgs (aliases "Found by the held-out set") and the
// previous-word guard, so these figures are no longer held-out.
TEST_CASE("the held-out routing set holds precision >= 0.98 and recall >= 0.92", "[orgs]") {
  auto posts = ReadPosts("routing/heldout.tsv");
  REQUIRE(posts.size() >= 160);
  SetScore score = ScoreSet(posts, "heldout.tsv");
  CHECK(score.categories.count("lookalike"));
  CHECK(score.categories.count("ambiguous"));
  CHECK(score.categories.count("context"));
  CHECK(score.categories.count("none"));
  CHECK(score.tp > 200);
  REQUIRE(score.precision() >= 0.98);
  REQUIRE(score.recall() >= 0.92);
}

TEST_CASE("a capitalised word before a short name makes it another name", "[orgs]") {
  // Mid-sentence "Morgan Freeman" is a person, even with A&E nearby.
  CHECK(CodesOf("Watching Morgan Freeman films while I wait in A&E").empty());
  CHECK(CodesOf("Saw Martin Freeman on stage in Newcastle, then back to the ward").empty());
  // A place, a possessive or a sentence start does not block.
  CHECK(CodesOf("Thanks to Newcastle's Freeman for my new valve, brilliant ward staff") ==
        std::set<std::string>{"RTD"});
  CHECK(CodesOf("Was at the Freeman all day. Cardiology were great") ==
        std::set<std::string>{"RTD"});
  // A bare surname-like name needs its city.
  CHECK(CodesOf("Morgan Freeman narrating my life while I wait in A&E").empty());
  CHECK(CodesOf("Freeman cardiac ward in Newcastle were lovely") == std::set<std::string>{"RTD"});
  // A name with a health word in it is its own context.
  CHECK(CodesOf("Yorkshire Ambulance Service took 7 hours to reach my grandad") ==
        std::set<std::string>{"RX8"});
}

TEST_CASE("a site routes to its trust with the site, rule and span", "[orgs]") {
  std::string text = "Six hours in A&E at the Northern General last night";
  Routing r = DefaultRouter().Route(text);
  REQUIRE(r.orgs.size() == 1);
  const auto& m = r.orgs[0];
  CHECK(m.code == "RHQ");
  CHECK(m.name == "Sheffield Teaching Hospitals NHS Foundation Trust");
  CHECK(m.site_code == "RHQNG");
  CHECK(m.site_name == "Northern General Hospital");
  CHECK(m.rule == "alias:northern-general");
  CHECK(m.version == DefaultRouter().version());
  CHECK(text.substr(m.start, m.end - m.start) == "Northern General");
  CHECK(r.unrouted.empty());

  // The generated site name itself, not only the alias.
  Routing full = DefaultRouter().Route("Freeman Hospital cardiothoracic team were great");
  REQUIRE(full.orgs.size() == 1);
  CHECK(full.orgs[0].code == "RTD");
  CHECK(full.orgs[0].site_code == "RTD01");
  CHECK(full.orgs[0].rule == "site:RTD01");
}

TEST_CASE("merged trusts and their sites route to today's organisation", "[orgs]") {
  // Trust names: the closed code is the rule, today's code the answer.
  Routing bristol = DefaultRouter().Route("North Bristol NHS Trust sent me someone else's letter");
  REQUIRE(bristol.orgs.size() == 1);
  CHECK(bristol.orgs[0].code == "RA7");
  CHECK(bristol.orgs[0].rule == "trust:RVJ");
  CHECK(CodesOf("Taunton and Somerset NHS Foundation Trust") == std::set<std::string>{"RH5"});
  CHECK(CodesOf("Mid Essex Hospital Services NHS Trust") == std::set<std::string>{"RAJ"});
  CHECK(CodesOf("Brighton and Sussex University Hospitals NHS Trust") ==
        std::set<std::string>{"RYR"});
  // Chains: Trafford Healthcare -> Central Manchester -> Manchester University.
  CHECK(CodesOf("Trafford Healthcare NHS Trust") == std::set<std::string>{"R0A"});

  // A 2020 site of a closed parent keeps its site code.
  Routing musgrove = DefaultRouter().Route("Musgrove Park Hospital in Taunton, ward 7");
  REQUIRE(musgrove.orgs.size() == 1);
  CHECK(musgrove.orgs[0].code == "RH5");
  CHECK(musgrove.orgs[0].site_code == "RBA11");
  CHECK(CodesOf("Royal Sussex County Hospital A&E") == std::set<std::string>{"RYR"});

  // Site-level successors: Pennine Acute's sites went two ways.
  CHECK(CodesOf("North Manchester General Hospital A&E") == std::set<std::string>{"R0A"});
  CHECK(CodesOf("Royal Oldham Hospital A&E") == std::set<std::string>{"RM3"});
  // RYK named Dudley and Walsall Mental Health in 2020 (now Black Country
  // Healthcare), a different trust from the RYK of 2024.
  CHECK(CodesOf("Bushey Fields Hospital ward") == std::set<std::string>{"TAJ"});

  // A split trust names two successors: context cannot pick, so unrouted.
  Routing split = DefaultRouter().Route("South London Healthcare NHS Trust records");
  CHECK(split.orgs.empty());
  REQUIRE(split.unrouted.size() == 1);
  CHECK(split.unrouted[0].candidates == std::vector<std::string>{"RJ2", "RJZ"});
}

TEST_CASE("web domains route to their organisation", "[orgs]") {
  std::string text = "New visiting times: https://www.sth.nhs.uk/patients/visiting today";
  Routing r = DefaultRouter().Route(text);
  REQUIRE(r.orgs.size() == 1);
  CHECK(r.orgs[0].code == "RHQ");
  CHECK(r.orgs[0].rule == "domain:sth.nhs.uk");
  CHECK(r.orgs[0].site_code.empty());
  CHECK(text.substr(r.orgs[0].start, r.orgs[0].end - r.orgs[0].start) == "www.sth.nhs.uk");
  // Generated from the Website column, through a successor (nbt = RVJ -> RA7).
  CHECK(CodesOf("see nbt.nhs.uk/our-services") == std::set<std::string>{"RA7"});
  CHECK(CodesOf("leaflet at https://www.gosh.nhs.uk/conditions") == std::set<std::string>{"RP4"});
  // Not a label boundary: not the domain.
  CHECK(CodesOf("https://notsth.nhs.uk/page").empty());
  CHECK(CodesOf("the sth.nhs.ukraine joke").empty());
}

TEST_CASE("acronyms are case-sensitive", "[orgs]") {
  CHECK(CodesOf("GOSH saved my son's life") == std::set<std::string>{"RP4"});
  CHECK(CodesOf("Gosh, what a day at work").empty());
  CHECK(CodesOf("oh my gosh the queue").empty());
  CHECK(CodesOf("The RVI maternity ward was fantastic") == std::set<std::string>{"RTD"});
  CHECK(CodesOf("the rvi is a word in some game").empty());
  CHECK(CodesOf("LGI A&E is a disgrace") == std::set<std::string>{"RR8"});
  CHECK(CodesOf("QMC kept us waiting 8 hours") == std::set<std::string>{"RX1"});
  CHECK(CodesOf("Spent the night at the JR with my dad") == std::set<std::string>{"RTH"});
  // "MRI" needs Manchester in the post: otherwise it is a scan.
  CHECK(CodesOf("Had my MRI scan today, all clear").empty());
  CHECK(CodesOf("Waiting for an MRI at the hospital, nervous").empty());
  CHECK(CodesOf("Taken to the MRI in Manchester after the fall") == std::set<std::string>{"R0A"});
  CHECK(CodesOf("Had an MRI scan in Manchester last week").empty());
  // Apostrophes, typographic or not, and possessives.
  CHECK(CodesOf("GOSH’s new cancer centre") == std::set<std::string>{"RP4"});
  CHECK(CodesOf("Addenbrooke’s neuro ICU") == std::set<std::string>{"RGT"});
  CHECK(CodesOf("Addenbrookes neuro ICU") == std::set<std::string>{"RGT"});
  CHECK(CodesOf("Addenbrooks parking") == std::set<std::string>{"RGT"});
  CHECK(CodesOf("St Thomas’ Hospital eye casualty") == std::set<std::string>{"RJ1"});
  CHECK(CodesOf("Alder Hey's play team") == std::set<std::string>{"RBS"});
}

TEST_CASE("look-alikes and bare places do not route", "[orgs]") {
  for (const char* text : {
           "Trust me, the NHS is brilliant when you need it",
           "Meeting at Victoria station then heading home",
           "It was Guy's birthday yesterday so we went out",
           "Guy's new car is amazing",
           "Running around Queen Elizabeth Olympic Park this morning",
           "Get off at New Cross Gate for the gig",
           "Our GP in Leeds is hopeless",
           "Just moved to Bolton and love it",
           "Royal London pension scheme update",
           "Charing Cross station is closed this weekend",
           "Moorfields station in Liverpool is closed",
           "St James's Park was packed for the derby",
           "Stoke Mandeville Stadium hosts the final",
       }) {
    Routing r = DefaultRouter().Route(text);
    INFO(text << " -> " << Describe(r, text));
    CHECK(r.orgs.empty());
    CHECK(r.unrouted.empty());
  }
  // The same short names route with health context.
  CHECK(CodesOf("Guy's A&E was rammed today, waited 5 hours") == std::set<std::string>{"RJ1"});
  CHECK(CodesOf("Royal London A&E was heaving") == std::set<std::string>{"R1H"});
  CHECK(CodesOf("Northwick Park A&E at night is grim") == std::set<std::string>{"R1K"});
}

TEST_CASE("shared names route only with context that leaves one candidate", "[orgs]") {
  Routing bare = DefaultRouter().Route("Queen Elizabeth Hospital A&E is always busy");
  CHECK(bare.orgs.empty());
  REQUIRE(bare.unrouted.size() == 1);
  CHECK(bare.unrouted[0].mention == "Queen Elizabeth Hospital");
  for (const char* code : {"RCX", "RJ2", "RR7", "RRK"}) {
    CHECK(std::count(bare.unrouted[0].candidates.begin(), bare.unrouted[0].candidates.end(),
                     code) == 1);
  }

  Routing gateshead = DefaultRouter().Route("Queen Elizabeth Hospital in Gateshead was clean");
  REQUIRE(gateshead.orgs.size() == 1);
  CHECK(gateshead.orgs[0].code == "RR7");
  CHECK(gateshead.orgs[0].site_code == "RR7EN");
  CHECK(gateshead.unrouted.empty());
  CHECK(CodesOf("Queen Elizabeth Hospital, King's Lynn") == std::set<std::string>{"RCX"});
  CHECK(CodesOf("Queen Elizabeth Hospital Woolwich") == std::set<std::string>{"RJ2"});

  CHECK(CodesOf("St Mary's Hospital was very good with me").empty());
  CHECK(CodesOf("St Mary's Hospital in Paddington was very good") == std::set<std::string>{"RYJ"});
  CHECK(CodesOf("Princess Royal Hospital parking costs a fortune").empty());
  CHECK(CodesOf("Princess Royal Hospital, Telford") == std::set<std::string>{"RXW"});
  CHECK(CodesOf("Princess Royal Hospital, Haywards Heath") == std::set<std::string>{"RYR"});
  CHECK(CodesOf("Had a scan at the city hospital today").empty());
  CHECK(CodesOf("City Hospital Birmingham outpatients") == std::set<std::string>{"RXK"});

  // An acronym two hospitals share; then the same with context, or with the
  // trust named elsewhere in the post.
  Routing ngh = DefaultRouter().Route("The NGH is overwhelmed tonight");
  CHECK(ngh.orgs.empty());
  REQUIRE(ngh.unrouted.size() == 1);
  CHECK(ngh.unrouted[0].candidates == std::vector<std::string>{"RHQ", "RNS"});
  CHECK(CodesOf("The NGH in Sheffield is overwhelmed") == std::set<std::string>{"RHQ"});
  CHECK(CodesOf("The NGH in Northampton is overwhelmed") == std::set<std::string>{"RNS"});
  CHECK(CodesOf("Sheffield Teaching Hospitals and the NGH") == std::set<std::string>{"RHQ"});

  // A curated default: "St Thomas' Hospital" is Guy's and St Thomas' unless
  // the post says Stockport.
  CHECK(CodesOf("St Thomas' Hospital maternity") == std::set<std::string>{"RJ1"});
  CHECK(CodesOf("St Thomas Hospital in Stockport") == std::set<std::string>{"RWJ"});
}

TEST_CASE("several organisations in one post each route once, in text order", "[orgs]") {
  std::string text =
      "Transferred from Sheffield Children's to the Northern General, then back to the "
      "Northern General Hospital";
  Routing r = DefaultRouter().Route(text);
  REQUIRE(r.orgs.size() == 2);
  CHECK(r.orgs[0].code == "RCU");
  CHECK(r.orgs[1].code == "RHQ");
  CHECK(r.orgs[0].start < r.orgs[1].start);
  CHECK(text.substr(r.orgs[1].start, r.orgs[1].end - r.orgs[1].start) == "Northern General");
}

TEST_CASE("devolved health boards, ICBs and regions", "[orgs]") {
  CHECK(CodesOf("Betsi Cadwaladr health board is in special measures") ==
        std::set<std::string>{"7A1"});
  CHECK(CodesOf("Ninewells Hospital nurses") == std::set<std::string>{"S08000030"});
  CHECK(CodesOf("NHS South Yorkshire ICB cut the service") == std::set<std::string>{"QF7"});
  CHECK(CodesOf("NHS England North West says") == std::set<std::string>{"Y62"});
  // "Aneurin Bevan" is the founder of the NHS unless it is the health board.
  CHECK(CodesOf("Aneurin Bevan founded the NHS in 1948").empty());
  CHECK(CodesOf("Aneurin Bevan University Health Board") == std::set<std::string>{"7A6"});
}

TEST_CASE("the router is shared by threads and answers the same", "[orgs]") {
  const OrgRouter& router = DefaultRouter();
  auto posts = ReadPosts();
  std::vector<std::set<std::string>> expected;
  for (const auto& p : posts) expected.push_back(Codes(router.Route(p.text)));
  std::atomic<int> differences{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < posts.size(); i += 2) {
        if (Codes(router.Route(posts[i].text)) != expected[i]) ++differences;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(differences == 0);
  CHECK(router.dfa_fallbacks() == 0);
}

TEST_CASE("version and names", "[orgs]") {
  const OrgRouter& router = DefaultRouter();
  CHECK(router.version().rfind("orgs-", 0) == 0);
  CHECK(router.version().size() == 17);
  auto again = OrgRouter::Load(fs::path(EARSHOT_SOURCE_DIR) / "config" / "orgs");
  REQUIRE(again.ok());
  CHECK((*again)->version() == router.version());
  CHECK(router.NameOf("RHQ") == "Sheffield Teaching Hospitals NHS Foundation Trust");
  CHECK(router.NameOf("TAH") == "Sheffield Health and Social Care NHS Foundation Trust");
  CHECK(router.NameOf("ZZZ").empty());
  CHECK(router.pattern_count() > 3000);
  CHECK(router.patterns().size() == router.pattern_count());
}

// --- small gazetteers written by the test --------------------------------

struct TempGazetteer {
  fs::path dir;
  TempGazetteer() {
    dir = fs::temp_directory_path() /
          ("earshot-orgs-" + std::to_string(reinterpret_cast<uintptr_t>(this)));
    fs::remove_all(dir);
    fs::create_directories(dir / "generated");
    const std::string org_header =
        "code\tkind\tname\tstatus\tclose_date\tregion\ticb\tplaces\tvariants\tsource\n";
    Write("generated/regions.tsv", org_header);
    Write("generated/icbs.tsv", org_header);
    Write("generated/wales.tsv", org_header);
    Write("generated/devolved.tsv", org_header);
    Write("generated/trusts.tsv",
          "# test\n" + org_header +
              "AAA\ttrust\tAlpha Hospitals NHS Trust\topen\t\t\t\tAlphaton\talpha hospitals nhs "
              "trust\tt\n"
              "BBB\ttrust\tBeta NHS Trust\tclosed\t\t\t\tBetaville\tbeta nhs trust\tt\n"
              "CCC\ttrust\tGamma NHS Trust\topen\t\t\t\tGammaford\tgamma nhs trust\tt\n");
    Write("generated/sites.tsv",
          "code\tname\tparent\tparent_2020\tsource\tplaces\tvariants\tdomain\n"
          "AAA01\tSt Example's Hospital\tAAA\t\tt\tAlphaton\tst example's hospital\t\n"
          "BBB01\tSt Example's Hospital\tBBB\t\tt\tBetaville\tst example's hospital\t\n"
          "BBB02\tUnique Wonder Hospital\tBBB\t\tt\tBetaville\tunique wonder hospital\t\n");
    Write("generated/devolved_sites.tsv",
          "code\tname\tparent\tparent_2020\tsource\tplaces\tvariants\tdomain\n");
    Write("generated/domains.tsv", "domain\tcode\tsites\tothers\nalpha.nhs.uk\tAAA\t1\t\n");
    Write("successors.tsv", "old\tnew\tbasis\tnote\nBBB\tCCC\ttest\t\n");
    Write("context_words.tsv", "kind\twords\nhealth\tward|nurses|A&E\nblock\tfilm|woman\n");
  }
  ~TempGazetteer() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  void Write(const std::string& relative, const std::string& text) {
    std::ofstream(dir / relative, std::ios::binary) << text;
  }
};

TEST_CASE("a small gazetteer: successors, context, aliases, domains", "[orgs]") {
  TempGazetteer g;
  g.Write("aliases.tsv",
          "id\ttarget\tflags\tvariants\n"
          "uw\tBBB02\tcs\tUW\n"
          "wonder\tBBB02\thealth\tWonder\n");
  auto loaded = OrgRouter::Load(g.dir);
  REQUIRE(loaded.ok());
  const OrgRouter& r = **loaded;
  // BBB closed -> CCC.
  CHECK(Codes(r.Route("Unique Wonder Hospital was fine")) == std::set<std::string>{"CCC"});
  CHECK(Codes(r.Route("Beta NHS Trust")) == std::set<std::string>{"CCC"});
  CHECK(Codes(r.Route("uw")).empty());
  CHECK(Codes(r.Route("UW were kind")) == std::set<std::string>{"CCC"});
  CHECK(Codes(r.Route("Wonder ward nurses")) == std::set<std::string>{"CCC"});
  CHECK(Codes(r.Route("Wonder woman film")).empty());
  // Two sites share a name; a place decides.
  CHECK(Codes(r.Route("St Example's Hospital")).empty());
  CHECK(r.Route("St Example's Hospital").unrouted.size() == 1);
  CHECK(Codes(r.Route("St Example's Hospital in Alphaton")) == std::set<std::string>{"AAA"});
  CHECK(Codes(r.Route("Saint Examples Hosp, Betaville")) == std::set<std::string>{"CCC"});
  CHECK(Codes(r.Route("mail me at https://alpha.nhs.uk/x")) == std::set<std::string>{"AAA"});
}

TEST_CASE("loader errors name the file and line", "[orgs]") {
  auto missing = OrgRouter::Load("/nonexistent/earshot/orgs");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == earshot::StatusCode::kNotFound);

  TempGazetteer g;
  g.Write("aliases.tsv", "id\ttarget\tflags\tvariants\nghost\tNOPE1\t-\tGhost Hospital\n");
  auto bad_target = OrgRouter::Load(g.dir);
  REQUIRE_FALSE(bad_target.ok());
  CHECK_THAT(bad_target.status().message(), Catch::Contains("aliases.tsv:2"));
  CHECK_THAT(bad_target.status().message(), Catch::Contains("NOPE1"));

  g.Write("aliases.tsv", "id\ttarget\tflags\tvariants\nx\tAAA\tloud\tX\n");
  auto bad_flag = OrgRouter::Load(g.dir);
  REQUIRE_FALSE(bad_flag.ok());
  CHECK_THAT(bad_flag.status().message(), Catch::Contains("loud"));

  g.Write("aliases.tsv", "id\ttarget\tflags\tvariants\nx\tAAA\t-\tX\nx\tAAA\t-\tY\n");
  auto duplicate = OrgRouter::Load(g.dir);
  REQUIRE_FALSE(duplicate.ok());
  CHECK_THAT(duplicate.status().message(), Catch::Contains("aliases.tsv:3"));

  g.Write("aliases.tsv", "id\ttarget\tflags\n");
  auto no_column = OrgRouter::Load(g.dir);
  REQUIRE_FALSE(no_column.ok());
  CHECK_THAT(no_column.status().message(), Catch::Contains("variants"));

  g.Write("aliases.tsv", "id\ttarget\tflags\tvariants\n");
  g.Write("successors.tsv", "old\tnew\nBBB\tCCC\nCCC\tBBB\n");
  g.Write("generated/trusts.tsv",
          "code\tkind\tname\tstatus\tclose_date\tregion\ticb\tplaces\tvariants\tsource\n"
          "BBB\ttrust\tBeta\tclosed\t\t\t\t\tbeta nhs trust\tt\n"
          "CCC\ttrust\tGamma\tclosed\t\t\t\t\tgamma nhs trust\tt\n");
  auto cycle = OrgRouter::Load(g.dir);
  REQUIRE_FALSE(cycle.ok());
  CHECK_THAT(cycle.status().message(), Catch::Contains("cycle"));
}

TEST_CASE("variant patterns and normalisation", "[orgs]") {
  using earshot::orgs::NormaliseVariant;
  CHECK(NormaliseVariant("Guy’s & St. Thomas'", false) == "guy's and st thomas'");
  CHECK(NormaliseVariant("Saint Mary's Hospital (HQ)", false) == "st mary's hospital hq");
  CHECK(NormaliseVariant("RD&E", true) == "RD and E");
  RE2 re(earshot::orgs::VariantPattern("st thomas' hospital", false));
  REQUIRE(re.ok());
  for (const char* yes : {"St Thomas' Hospital", "st thomas hospital", "Saint Thomas’s Hosp.",
                          "ST THOMAS'S HOSPITAL", "St. Thomas' Hospital's"}) {
    CHECK(RE2::PartialMatch(yes, re));
  }
  CHECK_FALSE(RE2::PartialMatch("St Thomasina Hospital", re));
  RE2 cs(earshot::orgs::VariantPattern("the JR", true));
  CHECK(RE2::PartialMatch("at The JR tonight", cs));
  CHECK_FALSE(RE2::PartialMatch("at the jr tonight", cs));
  CHECK_FALSE(RE2::PartialMatch("at the JRs", cs));
}

TEST_CASE("the word prefilter never rejects a text a name could match", "[orgs]") {
  CHECK(WordPrefilter::RequiredForms("northern general hospital") ==
        std::vector<std::string>{"northern"});
  CHECK(WordPrefilter::RequiredForms("addenbrookes") ==
        std::vector<std::string>{"addenbrookes", "addenbrooke"});
  CHECK(WordPrefilter::RequiredForms("guy's and st thomas'") == std::vector<std::string>{"thomas"});
  CHECK(WordPrefilter::RequiredForms("st hospital the").empty());

  WordPrefilter p;
  for (const char* v : {"addenbrookes", "alder hey", "guy's", "o'dee"}) {
    for (const auto& f : WordPrefilter::RequiredForms(v)) p.Add(f);
  }
  p.Build();
  for (const char* yes :
       {"Addenbrookes!", "at Addenbrooke's", "Addenbrooke’s", "ALDER HEY", "Alder Hey's", "Guys",
        "Guy’s", "Glen O'Dee", "Glen ODee", "x,alder-hey", "addenbrookes"}) {
    INFO(yes);
    CHECK(p.MayMatch(yes));
  }
  for (const char* no : {"", "the nurses were lovely", "hey", "theyalder", "addenbrook"}) {
    INFO(no);
    CHECK_FALSE(p.MayMatch(no));
  }
  // Long texts go through the heap copy; words at every offset.
  std::string longer(5000, ' ');
  longer.replace(4090, 5, "alder");
  CHECK(p.MayMatch(longer));
  for (size_t offset = 0; offset < 130; ++offset) {
    std::string t(offset, 'x');
    t += " Guy's ";
    INFO(offset);
    CHECK(p.MayMatch(t));
  }

  // Every post of the labelled set that routes passes the default prefilter
  // (a rejected post could not route), and most posts naming nothing are
  // rejected before the RE2::Set.
  for (const auto& post : ReadPosts()) {
    if (!post.expected.empty()) CHECK_FALSE(DefaultRouter().Route(post.text).orgs.empty());
  }
}

}  // namespace

TEST_CASE("CamelCase hashtags route like the name written with spaces", "[orgs]") {
  struct Case {
    std::string text;
    std::string spaced;  // the same post with the name written out
  };
  const std::vector<Case> cases = {
      {"Six hours in A&E at #NorthernGeneral tonight",
       "Six hours in A&E at Northern General tonight"},
      {"Thank you #StThomasHospital for everything", "Thank you St Thomas Hospital for everything"},
      {"#GreatOrmondStreet saved my son", "Great Ormond Street saved my son"},
      {"Maternity at the #JessopWing was excellent", "Maternity at the Jessop Wing was excellent"},
      {"#SheffieldTeachingHospitals need more staff",
       "Sheffield Teaching Hospitals need more staff"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    const Routing tagged = DefaultRouter().Route(c.text);
    const Routing spaced = DefaultRouter().Route(c.spaced);
    REQUIRE_FALSE(spaced.orgs.empty());
    CHECK(Codes(tagged) == Codes(spaced));
    REQUIRE(tagged.orgs.size() == spaced.orgs.size());
    for (size_t i = 0; i < tagged.orgs.size(); ++i) {
      CHECK(tagged.orgs[i].site_code == spaced.orgs[i].site_code);
    }
  }
  // The span is the hashtag's name, in the post as written.
  const std::string post = "Six hours in A&E at #NorthernGeneral tonight";
  const Routing r = DefaultRouter().Route(post);
  REQUIRE(r.orgs.size() == 1);
  CHECK(r.orgs[0].code == "RHQ");
  CHECK(post.substr(r.orgs[0].start, r.orgs[0].end - r.orgs[0].start) == "NorthernGeneral");
  // Acronyms stay whole; a run of capitals before a word is cut before the
  // word's capital; hashtags that are not names still do not route.
  const std::string nhs = "Waiting at #GOSH and #NHSTrust news";
  CHECK(CodesOf(nhs) == CodesOf("Waiting at GOSH and NHS Trust news"));
  CHECK(CodesOf("#TrustMe on this one").empty());
  CHECK(CodesOf("#VictoriaStation delays again").empty());
  CHECK(CodesOf("#northerngeneral").empty());   // no capitals: no way to tell the words apart
  CHECK(CodesOf("C#NorthernGeneral").empty());  // not a hashtag
  // An ambiguous name in a hashtag stays unrouted, its mention as written.
  const std::string ambiguous = "Great care at #QueenElizabethHospital today";
  const Routing u = DefaultRouter().Route(ambiguous);
  CHECK(u.orgs.empty());
  REQUIRE(u.unrouted.size() == 1);
  CHECK(u.unrouted[0].mention == "QueenElizabethHospital");
  CHECK(ambiguous.substr(u.unrouted[0].start, u.unrouted[0].end - u.unrouted[0].start) ==
        "QueenElizabethHospital");
}
