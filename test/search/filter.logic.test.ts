import { describe, expect, it } from 'vitest'
import { matchesFilter } from '../../workers/search/logic/filter-eval'
import { FilterSyntaxError, parseFilter } from '../../workers/search/logic/filter-parse'

const docs = [
  {
    id: 1,
    genre: 'Sci-Fi',
    year: 1999,
    rating: 8.7,
    tags: ['classic', 'cyberpunk'],
    director: { name: 'Wachowski' },
    note: null,
  },
  { id: 2, genre: 'drama', year: 2001, rating: 7.1, tags: [], director: { name: 'Jeunet' } },
  { id: 3, genre: 'sci-fi', year: 2003, rating: 6.9, tags: ['sequel'], note: '' },
  { id: 4, genre: 'Comédie', year: 2010, tags: ['french'], note: 'fine' },
]

const where = (filter: Parameters<typeof parseFilter>[0]) => {
  const tree = parseFilter(filter)
  return docs.filter((doc) => matchesFilter(tree, doc)).map((doc) => doc.id)
}

describe('filter expressions', () => {
  it('= and != (case- and accent-insensitive strings; != includes missing fields)', () => {
    expect(where('genre = "sci-fi"')).toEqual([1, 3])
    expect(where("genre = 'COMEDIE'")).toEqual([4])
    expect(where('genre != sci-fi')).toEqual([2, 4])
    expect(where('rating != 7.1')).toEqual([1, 3, 4])
  })
  it('numeric comparisons and TO', () => {
    expect(where('year > 2001')).toEqual([3, 4])
    expect(where('year >= 2001')).toEqual([2, 3, 4])
    expect(where('year < 2001')).toEqual([1])
    expect(where('year <= 2001')).toEqual([1, 2])
    expect(where('rating 7 TO 9')).toEqual([1, 2])
    expect(where('year 2001 TO 2003')).toEqual([2, 3])
  })
  it('IN and NOT IN, over arrays too', () => {
    expect(where('genre IN [drama, "Comédie"]')).toEqual([2, 4])
    expect(where('tags IN [cyberpunk, sequel]')).toEqual([1, 3])
    expect(where('genre NOT IN [drama]')).toEqual([1, 3, 4])
    expect(where('tags = classic')).toEqual([1])
  })
  it('EXISTS, IS NULL, IS EMPTY and their negations', () => {
    expect(where('note EXISTS')).toEqual([1, 3, 4])
    expect(where('note NOT EXISTS')).toEqual([2])
    expect(where('note IS NULL')).toEqual([1])
    expect(where('note IS NOT NULL')).toEqual([2, 3, 4])
    expect(where('tags IS EMPTY')).toEqual([2])
    expect(where('note IS EMPTY')).toEqual([3])
    expect(where('tags IS NOT EMPTY')).toEqual([1, 3, 4])
  })
  it('AND binds tighter than OR; NOT and parentheses; nested fields', () => {
    expect(where('genre = drama OR genre = sci-fi AND year > 2000')).toEqual([2, 3])
    expect(where('(genre = drama OR genre = sci-fi) AND year > 2000')).toEqual([2, 3])
    expect(where('NOT (genre = drama OR year > 2002)')).toEqual([1])
    expect(where('NOT NOT year = 1999')).toEqual([1])
    expect(where('director.name = jeunet')).toEqual([2])
    expect(where('genre = drama or year = 1999')).toEqual([1, 2])
  })
  it('the array form: outer AND, inner OR', () => {
    expect(where([['genre = drama', 'genre = sci-fi'], 'year > 2000'])).toEqual([2, 3])
    expect(where([])).toEqual([1, 2, 3, 4])
    expect(where('')).toEqual([1, 2, 3, 4])
  })
  it('syntax errors say what was expected and where', () => {
    const error = (source: string) => {
      try {
        parseFilter(source)
      } catch (thrown) {
        expect(thrown).toBeInstanceOf(FilterSyntaxError)
        return (thrown as Error).message
      }
      throw new Error(`no error for ${source}`)
    }
    expect(error('genre')).toMatch(/^Was expecting an operation `=`, `!=`.* at `genre`\.\n1:6 genre$/)
    expect(error('genre = ')).toMatch(/Was expecting a value but instead got nothing/)
    expect(error('(genre = a')).toMatch(/missing the following closing delimiter: `\)`/)
    expect(error('genre = "a')).toMatch(/closing delimiter: `"`/)
    expect(error('genre = a b')).toMatch(/Found unexpected characters at the end of the filter/)
    expect(error('genre IN a')).toMatch(/Expected `\[`/)
    expect(error('genre IN [a, b')).toMatch(/Expected matching `\]`/)
    expect(error('genre IS maybe')).toMatch(/Was expecting `NULL` or `EMPTY`/)
    expect(error('a ! b')).toMatch(/Was expecting an operation/)
    expect(error(`${'('.repeat(120)}a = 1${')'.repeat(120)}`)).toMatch(/maximum depth/)
  })
})
