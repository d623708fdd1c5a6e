package org.shardline.analysis;

import org.apache.lucene.analysis.LowerCaseFilter;
import org.apache.lucene.analysis.TokenStream;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.TokenFilterFactory;

/** Elasticsearch's lowercase token filter, on Lucene's LowerCaseFilter. */
@NamedComponent("lowercase")
public class LowercaseTokenFilterFactory implements TokenFilterFactory {
    @Override
    public TokenStream create(TokenStream input) {
        return new LowerCaseFilter(input);
    }

    @Override
    public TokenStream normalize(TokenStream input) {
        return new LowerCaseFilter(input);
    }
}
