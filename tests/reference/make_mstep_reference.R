# Writes tests/reference/mclust_mstep.json: mclust's M-step covariances for
# given data and responsibilities z, for every covariance model, plus
# mclust's nVarParams table.  Used by tests/mixture/test_covariance.py.
#
# Run from the repository root:
#   Rscript tests/reference/make_mstep_reference.R
#
# The data sets come with R (datasets::faithful, iris, mtcars); z is drawn
# here with a fixed seed (R's default RNG) and written to the JSON file, so
# the tests need neither R nor this script.

suppressPackageStartupMessages(library(mclust))
library(jsonlite)

# Responsibilities: a blend of a hard partition and uniform noise, rows sum to 1.
make_z <- function(labels, G, seed, weight = 0.6) {
  set.seed(seed)
  n <- length(labels)
  noise <- matrix(runif(n * G), n, G)
  noise <- noise / rowSums(noise)
  hard <- outer(labels, seq_len(G), "==") * 1
  weight * hard + (1 - weight) * noise
}

cases <- list(
  list(
    name = "faithful_G3",
    data = as.matrix(faithful),
    z = make_z(cut(faithful$eruptions, c(-Inf, 2.5, 4, Inf), labels = FALSE), 3, 1)
  ),
  list(
    name = "iris_G3",
    data = as.matrix(iris[, 1:4]),
    z = make_z(as.integer(iris$Species), 3, 2)
  ),
  list(
    name = "mtcars_G2",
    data = as.matrix(mtcars[, c("mpg", "disp", "hp", "drat", "wt")]),
    z = make_z(mtcars$am + 1, 2, 3, weight = 0.7)
  ),
  list(
    name = "waiting_G2",
    data = matrix(faithful$waiting, ncol = 1),
    z = make_z((faithful$waiting > 67) + 1, 2, 4)
  )
)

# mclust's default inner tolerance (sqrt(eps)) stops the iterative M-steps
# (VEI, VEV, VEE, EVE, VVE) well before they converge (VVE's objective can be
# off by 1e-3); run them to convergence so the reference is the maximiser.
# mclust starts the common orientation of EVE and VVE at the identity.
control <- emControl(tol = c(1e-5, 1e-14), itmax = c(.Machine$integer.max, 1e6))

out_cases <- lapply(cases, function(case) {
  d <- ncol(case$data)
  models <- if (d == 1) c("E", "V") else mclust.options("emModelNames")
  sigma <- list()
  for (m in models) {
    fit <- mstep(data = if (d == 1) as.vector(case$data) else case$data, modelName = m, z = case$z,
                 control = control)
    v <- fit$parameters$variance
    if (d == 1) {
      s <- rep_len(v$sigmasq, ncol(case$z))
      sigma[[m]] <- lapply(s, function(x) matrix(x, 1, 1))
    } else {
      sigma[[m]] <- lapply(seq_len(ncol(case$z)), function(k) v$sigma[, , k])
    }
  }
  list(name = case$name, data = unname(case$data), z = unname(case$z), sigma = sigma)
})

all_models <- c("E", "V", mclust.options("emModelNames"))
n_var <- list()
for (m in all_models) {
  rows <- list()
  for (d in c(1, 2, 3, 5)) {
    if ((m %in% c("E", "V")) != (d == 1)) next
    for (G in c(1, 3)) {
      rows[[length(rows) + 1]] <- list(d = d, k = G, n_var = nVarParams(m, d, G))
    }
  }
  n_var[[m]] <- rows
}

result <- list(
  mclust_version = as.character(packageVersion("mclust")),
  r_version = R.version.string,
  script = "tests/reference/make_mstep_reference.R",
  inner_tol = control$tol[2],
  inner_itmax = control$itmax[2],
  cases = out_cases,
  n_var_params = n_var
)
writeLines(
  toJSON(result, digits = NA, auto_unbox = TRUE, pretty = FALSE),
  "tests/reference/mclust_mstep.json"
)
