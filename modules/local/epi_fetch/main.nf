process EPI_FETCH {
    tag "${meta.id}:${source}:${accession}"
    label 'process_single'
    container "${params.container_cpu}"

    input:
    tuple val(meta), val(source), val(accession)

    output:
    tuple val(meta), path("${prefix}")                                       , emit: dir
    tuple val(meta), path("${prefix}/fetch.tsv")                             , emit: manifest
    tuple val(meta), path("${prefix}/*.{fa,fa.gz,fasta,fasta.gz,2bit}")      , emit: genome      , optional: true
    tuple val(meta), path("${prefix}/*.{fai,gzi}")                           , emit: genome_index, optional: true
    tuple val(meta), path("${prefix}/*.{tsv,tsv.gz,txt,txt.gz,bed,bed.gz}") , emit: tables      , optional: true
    path "versions.yml"                                                      , emit: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args = task.ext.args ?: ''
    prefix = task.ext.prefix ?: "${meta.id}_${source}"
    """
    epi-fetch ${source} ${accession} \\
        --out ${prefix} \\
        ${args}

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """

    stub:
    prefix = task.ext.prefix ?: "${meta.id}_${source}"
    def stub_files = source == 'genome' ? "${accession}.fa.gz ${accession}.fa.gz.fai ${accession}.fa.gz.gzi" : "${accession}.tsv"
    """
    mkdir -p ${prefix}
    printf 'item\\tpath\\tsize\\tmd5\\turl\\n' > ${prefix}/fetch.tsv
    (cd ${prefix} && touch ${stub_files})

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        epitools: \$(epi --version 2>&1 | sed 's/^.*version //')
    END_VERSIONS
    """
}
