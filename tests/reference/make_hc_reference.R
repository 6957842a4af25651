# Reference merge sequences of mclust's model-based hierarchical clustering.
#
# Writes tests/reference/mclust_hc.json, read by tests/mixture/test_hc.py.
# Run from the repository root:  Rscript tests/reference/make_hc_reference.R
#
# For each data set it records the raw data X, the transformed data Z that
# hc(..., use = "SVD") fed to hcVVV/hcEII (attr(, "data")), mclust's merge
# pairs (1-based, one [i, j] per stage, i < j) and hclass(hc, G) for a few G.
# Storing Z lets the Python tests check the agglomeration on exactly R's
# input, separately from the SVD transform (whose last bits depend on LAPACK).
suppressPackageStartupMessages(library(mclust))
library(jsonlite)

cases <- list()

# jsonlite prints at most 15 significant digits; write matrices verbatim
# with 17 so that doubles round-trip exactly.
mat17 <- function(m) {
  rows <- apply(m, 1, function(r) paste0("[", paste(sprintf("%.17g", r), collapse = ","), "]"))
  structure(paste0("[", paste(rows, collapse = ","), "]"), class = "json")
}

add_case <- function(name, X, model, r_expr, Gs = 1:9) {
  X <- as.matrix(X)
  dimnames(X) <- NULL
  h <- hc(X, modelName = model, use = "SVD")
  Z <- attr(h, "data")
  dimnames(Z) <- NULL
  n <- nrow(X)
  Gs <- Gs[Gs <= n]
  cl <- hclass(h, Gs)
  cases[[length(cases) + 1]] <<- list(
    name = name,
    r_expr = r_expr,
    r_call = sprintf('hc(X, modelName = "%s", use = "SVD")', model),
    model = model,
    n = n,
    d = ncol(X),
    n_duplicated_rows = sum(duplicated(X)),
    X = mat17(X),
    Z = mat17(Z),
    pairs = unname(split(t(unclass(h))[, 1:2, drop = FALSE],
                         seq_len(ncol(h)))),
    hclass_G = Gs,
    hclass = unname(lapply(seq_along(Gs), function(g) as.integer(cl[, g])))
  )
}

# Old Faithful (n = 272, d = 2): the start of Mclust(faithful).
add_case("faithful_VVV", faithful, "VVV", "X <- faithful")
add_case("faithful_EII", faithful, "EII", "X <- faithful")

# iris measurements (n = 150, d = 4); rows 102 and 143 are identical.
add_case("iris_VVV", iris[, 1:4], "VVV", "X <- iris[, 1:4]")
add_case("iris_EII", iris[, 1:4], "EII", "X <- iris[, 1:4]")

# Simulated 3-D data: three Gaussian clusters, n = 300.
set.seed(20240601)
sim3 <- rbind(
  matrix(rnorm(100 * 3), ncol = 3),
  matrix(rnorm(120 * 3, mean = 3, sd = 0.7), ncol = 3),
  cbind(rnorm(80, -2, 0.5), rnorm(80, 2, 1.5), rnorm(80, 0, 0.3))
)
add_case("sim3d_VVV", sim3, "VVV",
         "set.seed(20240601); three clusters n = 100/120/80 (see make_hc_reference.R)")
add_case("sim3d_EII", sim3, "EII",
         "set.seed(20240601); three clusters n = 100/120/80 (see make_hc_reference.R)")

# Ties: coarse integer data with many duplicated rows and equal distances.
set.seed(7)
ties <- matrix(sample(0:3, 2 * 60, replace = TRUE), ncol = 2)
ties[, 2] <- ties[, 2] + ties[, 1]
add_case("ties2d_VVV", ties, "VVV",
         "set.seed(7); 60 x 2 integers in 0:3, col 2 += col 1 (see make_hc_reference.R)")
add_case("ties2d_EII", ties, "EII",
         "set.seed(7); 60 x 2 integers in 0:3, col 2 += col 1 (see make_hc_reference.R)")

# Rounded 3-D data: some duplicated rows among distinct ones.
set.seed(11)
rnd3 <- round(matrix(rnorm(3 * 120), ncol = 3), 1)
add_case("round3d_VVV", rnd3, "VVV",
         "set.seed(11); round(matrix(rnorm(3 * 120), ncol = 3), 1)")

# n <= d: mclust uses EII here.
set.seed(3)
wide <- matrix(rnorm(8 * 12), nrow = 8)
add_case("wide_n8_d12_EII", wide, "EII",
         "set.seed(3); matrix(rnorm(8 * 12), nrow = 8)")

out <- list(
  environment = list(
    R = R.version.string,
    mclust = as.character(packageVersion("mclust")),
    jsonlite = as.character(packageVersion("jsonlite")),
    platform = R.version$platform
  ),
  script = "tests/reference/make_hc_reference.R",
  note = paste(
    "pairs: mclust's merge sequence, 1-based, pair [i, j] (i < j) at stage l",
    "merges the groups labelled i and j (a group is labelled by its smallest",
    "row index); hclass: hclass(hc, G) for G in hclass_G, 1-based.",
    "hc()'s default partition is not forwarded to hcVVV/hcEII, so every row",
    "(duplicates too) starts as a singleton."
  ),
  cases = cases
)
writeLines(toJSON(out, auto_unbox = TRUE, json_verbatim = TRUE),
           "tests/reference/mclust_hc.json")
