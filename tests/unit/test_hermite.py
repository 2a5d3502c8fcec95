"""Hermite coefficients against known values, and information exponents."""

import math

import numpy as np
import pytest

from probe_models.errors import InvalidInput
from probe_models.gaussian.hermite import (
    hermite,
    hermite_coefficients,
    information_exponent,
    monomial_coefficients,
    polynomial_link,
)


def test_the_normalized_hermite_polynomials_are_orthonormal_under_the_gaussian():
    gram = np.array([[hermite_coefficients(lambda x, j=j: hermite(j, x), 6)[k] for k in range(7)] for j in range(7)])
    np.testing.assert_allclose(gram, np.eye(7), atol=1e-10)


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_he_k_has_one_coefficient_sqrt_k_factorial_and_exponent_k(k):
    coefficients = hermite_coefficients(lambda x: np.polynomial.hermite_e.hermeval(x, [0] * k + [1]), 8)
    expected = np.zeros(9)
    expected[k] = math.sqrt(math.factorial(k))
    np.testing.assert_allclose(coefficients, expected, atol=1e-9)
    assert information_exponent(coefficients) == k


def test_relu_matches_its_closed_form_and_has_exponent_1():
    """E[z₊ h_k(z)] = φ(0) He_{k−2}(0) / √k! for k ≥ 2 (Stein's lemma twice); c₀ = φ(0), c₁ = 1/2."""
    phi0 = 1 / math.sqrt(2 * math.pi)
    coefficients = hermite_coefficients(lambda x: np.maximum(x, 0.0), 8)

    def he_at_zero(n: int) -> float:
        return 0.0 if n % 2 else (-1) ** (n // 2) * math.prod(range(n - 1, 0, -2))

    expected = [phi0, 0.5] + [phi0 * he_at_zero(k - 2) / math.sqrt(math.factorial(k)) for k in range(2, 9)]
    np.testing.assert_allclose(coefficients, expected, atol=1e-10)
    assert information_exponent(coefficients) == 1


def test_tanh_is_odd_with_c1_equal_to_the_mean_of_its_derivative():
    coefficients = hermite_coefficients(np.tanh, 7)
    np.testing.assert_allclose(coefficients[::2], 0.0, atol=1e-12)
    assert coefficients[1] == pytest.approx(0.6057, abs=1e-4)  # E[tanh'(z)] = E[sech²(z)]
    assert information_exponent(coefficients) == 1


def test_a_link_with_only_a_mean_has_no_information_exponent():
    with pytest.raises(InvalidInput, match="information exponent 0"):
        information_exponent(hermite_coefficients(lambda x: 3.0 + 0.0 * x, 6))


def test_polynomial_links_round_trip_through_monomials():
    coefficients = np.array([0.0, 0.0, 0.5, 0.8])
    x = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(
        np.polynomial.polynomial.polyval(x, monomial_coefficients(coefficients)), polynomial_link(coefficients)(x)
    )
    np.testing.assert_allclose(hermite_coefficients(polynomial_link(coefficients), 3), coefficients, atol=1e-12)
