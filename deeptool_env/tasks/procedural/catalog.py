"""The procedural families, in the fixed order that maps indices to families."""

from __future__ import annotations

from .algebra import linear_system, poly_interpolation
from .base import Family
from .combinatorics import binomial_mod, catalan, derangements, lattice_paths, partitions
from .number_theory import crt, digit_sums, divisor_sums, linear_recurrence, modpow, totient_sum
from .primes import nth_prime, prime_count, prime_factors, prime_sum

#: Family name -> generator. The order is part of the generator's output: append only,
#: and bump `GENERATOR_VERSION` on any change.
FAMILIES: dict[str, Family] = {
    "modpow": modpow,
    "crt": crt,
    "linear_recurrence": linear_recurrence,
    "totient_sum": totient_sum,
    "divisor_sums": divisor_sums,
    "digit_sums": digit_sums,
    "nth_prime": nth_prime,
    "prime_count": prime_count,
    "prime_sum": prime_sum,
    "prime_factors": prime_factors,
    "binomial_mod": binomial_mod,
    "derangements": derangements,
    "catalan": catalan,
    "lattice_paths": lattice_paths,
    "partitions": partitions,
    "linear_system": linear_system,
    "poly_interpolation": poly_interpolation,
}
